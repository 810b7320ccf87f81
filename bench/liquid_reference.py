"""python-liquid on the benchmark's template: the reference for the templates stage.

Usage: python3 bench/liquid_reference.py TEMPLATE_FILE DATA_FILE COUNT

Parses TEMPLATE_FILE once, then renders it COUNT times with the JSON object in DATA_FILE as its
top-level variables, and prints one JSON line: {"version", "renders", "cpu_seconds", "output"}.
Only the render loop is timed, on this process's CPU time, as the Swift side times its own loop.
Exits 3 when python-liquid is not installed (`pip install python-liquid`).
"""

import json
import sys
import time

try:
    import liquid
except ImportError:
    print("python-liquid is not installed: pip install python-liquid", file=sys.stderr)
    sys.exit(3)


def main() -> None:
    template_file, data_file, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(template_file, encoding="utf-8") as f:
        source = f.read()
    with open(data_file, encoding="utf-8") as f:
        data = json.load(f)
    template = liquid.Environment().from_string(source)
    output = template.render(**data)
    start = time.process_time()
    for _ in range(count):
        template.render(**data)
    cpu = time.process_time() - start
    print(json.dumps({"version": liquid.__version__, "renders": count, "cpu_seconds": cpu, "output": output}))


if __name__ == "__main__":
    main()
