"""environment.json names the machine a run's numbers came from."""

import torch

from xmner.pipelines.environment import cpu_name, environment


def test_cpu_name_is_the_model_name_line_of_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9654\n")
    assert cpu_name(info) == "AMD EPYC 9654"
    assert cpu_name(tmp_path / "missing") != ""  # platform's answer, or "cpu"


def test_environment_records_the_cpu_and_the_kernels_instruction_set():
    env = environment({"a.txt": "0123"}, threads=1)
    assert env["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    if not torch.cuda.is_available():
        assert env["device"] == f"cpu ({cpu_name()})"
    assert env["inputs"] == {"a.txt": "0123"} and env["threads"] == 1
