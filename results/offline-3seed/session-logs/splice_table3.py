"""Replace README's '#### Table 3' block (up to '#### Table 4') with a report's table3.md, headings demoted."""
import re, sys
from pathlib import Path
readme = Path("/work/main/README.md"); table = Path(sys.argv[1]).read_text(encoding="utf-8")
table = re.sub(r"^### ", "#### ", table, flags=re.M)
text = readme.read_text(encoding="utf-8")
start = text.index("#### Table 3:"); end = text.index("#### Table 4:")
readme.write_text(text[:start] + table.rstrip("\n") + "\n\n" + text[end:], encoding="utf-8")
print("spliced", len(table), "chars")
