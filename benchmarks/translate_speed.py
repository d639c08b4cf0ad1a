"""Translation speed: transformers MarianMT vs CTranslate2 int8, and the translation cache.

An opus-mt-shaped random Marian model (d_model 512, 6+6 layers, ffn 2048, 65,001-token
vocabulary) with a sentencepiece tokenizer trained on the shared corpora translates Twitter-2015
sentences en->zh. Every hypothesis is forced to exactly ``--length`` target tokens (min = max
length, so EOS cannot end one early), making target tokens per second comparable across
engines, at greedy and beam 4. Then a corpus is translated twice through the sqlite cache.

    PYTHONPATH=src python benchmarks/translate_speed.py [--threads 2] [--sentences 64]

Prints a table; numbers depend on the machine and on whatever else is running.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

# Busy-waiting OpenMP threads collapse when other jobs share the cores (torch at 2 threads was
# 7x slower than at 1 on a loaded machine); passive waiting keeps the comparison about decoding.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _texts(data_dir: str | None, n: int) -> tuple[list[str], list[str]]:
    from xmner.data.corpora import load_split
    from xmner.translate.placeholder import join_tokens

    tw = load_split("twitter2015", "train", data_dir)
    cm = load_split("cmner", "train", data_dir)
    train = [join_tokens(p.tokens, "en") for p in tw] + [join_tokens(p.tokens, "zh") for p in cm]
    dev = [join_tokens(p.tokens, "en") for p in load_split("twitter2015", "dev", data_dir)[:n]]
    return train, dev


def _time_marian(model_dir: Path, texts: list[str], beams: int, length: int, batch: int):
    import torch

    from xmner.translate.backends import MarianTranslator

    engine = MarianTranslator("en", "zh", str(model_dir), num_beams=beams, batch_size=batch)
    n_tokens = 0
    start = time.perf_counter()
    for i in range(0, len(texts), batch):
        enc = engine.tokenizer(
            engine._prepare(texts[i : i + batch]), return_tensors="pt", padding=True
        )
        with torch.inference_mode():
            ids = engine.net.generate(
                **enc,
                num_beams=beams,
                min_new_tokens=length,
                max_new_tokens=length,
                do_sample=False,
            )
        n_tokens += (ids.shape[1] - 1) * ids.shape[0]  # minus the decoder start token
    return n_tokens, time.perf_counter() - start


def _time_ct2(ct2_dir: Path, texts: list[str], beams: int, length: int, batch: int, threads: int):
    from xmner.translate.backends import CTranslate2Translator

    engine = CTranslate2Translator("en", "zh", str(ct2_dir), threads=threads, compute_type="int8")
    sources = [engine.encode(t) for t in texts]
    n_tokens = 0
    start = time.perf_counter()
    for i in range(0, len(sources), batch):
        results = engine.net.translate_batch(
            sources[i : i + batch],
            beam_size=beams,
            min_decoding_length=length,
            max_decoding_length=length,
            max_batch_size=batch,
        )
        n_tokens += sum(len(r.hypotheses[0]) for r in results)
    return n_tokens, time.perf_counter() - start


def _bench_engines(model_dir: Path, ct2_dir: Path, texts: list[str], args) -> None:
    print(
        f"\n{len(texts)} sentences, {args.length} target tokens each, batch {args.batch_size}, "
        f"{args.threads} threads, OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}"
    )
    head = ("decoding", "engine", "tokens", "seconds", "tok/s", "speed-up")
    print("{:10s} {:22s} {:>7s} {:>8s} {:>8s} {:>8s}".format(*head))
    for beams, name in ((1, "greedy"), (4, "beam 4")):
        n_hf, t_hf = _time_marian(model_dir, texts, beams, args.length, args.batch_size)
        n_ct, t_ct = _time_ct2(ct2_dir, texts, beams, args.length, args.batch_size, args.threads)
        if n_hf != n_ct:
            raise AssertionError(f"output lengths differ: {n_hf} vs {n_ct} tokens")
        print(f"{name:10s} {'marian (transformers)':22s} {n_hf:7d} {t_hf:8.2f} {n_hf / t_hf:8.0f}")
        print(
            f"{name:10s} {'ctranslate2 int8':22s} {n_ct:7d} {t_ct:8.2f} {n_ct / t_ct:8.0f} "
            f"{t_hf / t_ct:7.1f}x"
        )


def _bench_cache(ct2_dir: Path, args, work: Path) -> None:
    from xmner.data.corpora import load_split
    from xmner.translate.backends import CTranslate2Translator
    from xmner.translate.cache import CachedTranslator, TranslationCache
    from xmner.translate.corpus import translate_corpus

    posts = load_split("twitter2015", "dev", args.data_dir)[: args.posts]
    engine = CTranslate2Translator(
        "en", "zh", str(ct2_dir), threads=args.threads, beam_size=4, max_decoding_length=args.length
    )
    times = []
    for _ in range(2):
        cache = TranslationCache(work / "cache.sqlite")
        start = time.perf_counter()
        out, report = translate_corpus(
            posts, CachedTranslator(engine, cache), source="twitter2015", target="cmner"
        )
        times.append(time.perf_counter() - start)
        cache.close()
    print(
        f"\ncache: {len(posts)} posts (ctranslate2 int8, beam 4): first run {times[0]:.2f} s, "
        f"cached rerun {times[1]:.3f} s, {times[0] / times[1]:.0f}x faster"
    )


def main() -> None:
    """Build the models, run both benchmarks, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sentences", type=int, default=64)
    parser.add_argument("--length", type=int, default=32, help="target tokens per sentence")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--posts", type=int, default=100, help="posts for the cache benchmark")
    parser.add_argument("--work", help="keep models here (default: a temporary directory)")
    args = parser.parse_args()

    import torch

    from xmner.translate.backends import convert_model
    from xmner.translate.random_marian import RandomMarianConfig, build_random_marian

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work or tmp)
        train, texts = _texts(args.data_dir, args.sentences)
        model_dir = work / "marian"
        if not (model_dir / "config.json").is_file():
            build_random_marian(model_dir, train, RandomMarianConfig.opus_mt())
        ct2_dir = work / "ct2-int8"
        if not (ct2_dir / "model.bin").is_file():
            convert_model(str(model_dir), ct2_dir, quantization="int8", force=True)
        _bench_engines(model_dir, ct2_dir, texts, args)
        (work / "cache.sqlite").unlink(missing_ok=True)
        _bench_cache(ct2_dir, args, work)


if __name__ == "__main__":
    main()
