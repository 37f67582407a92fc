"""Pass 2 of the mutation audit: the code that runs when the package is imported.

mutmut records which tests call each function; the converter's configuration
and the generator of its fast hooks run at import, so they are recorded
against whichever test ran first, and their mutants would be tried against
that one test only. After `mutmut run` has collected its stats (run it on one
mutant), this gives those functions every test of the selection. Then run
their mutants. In a clone whose `[tool.mutmut]` is pass 1's plus
`process_isolation = "forkserver"` and `forkserver_warmup = "none"`:

    mutmut run --max-children 1 "crowdtwist_async._converter.x__indent__mutmut_1"
    python .ci/mutmut_import_time.py
    mutmut run --max-children 1 $(python .ci/mutmut_import_time.py --patterns)
"""

from __future__ import annotations

import json
import sys

IMPORT_TIME = [
    "crowdtwist_async._converter.x__configure",
    "crowdtwist_async._converter.x__record_hook",
    "crowdtwist_async._converter.x__record_unstructure_hook",
    "crowdtwist_async._converter.x__wire_keys",
    "crowdtwist_async._converter.x__overrides",
    "crowdtwist_async._converter.x__optional_hook",
    "crowdtwist_async._converter.x__is_optional",
    "crowdtwist_async._converter.x__fast_record_hook",
    "crowdtwist_async._converter.x__inline",
    "crowdtwist_async._converter.x__read",
    "crowdtwist_async._converter.x__setter",
    "crowdtwist_async._converter.x__indent",
    "crowdtwist_async._converter.x__optional_inner",
    "crowdtwist_async._protocol.xǁ_FastLoadsǁ__init__",
]
STATS = "mutants/mutmut-stats.json"


def main() -> None:
    if sys.argv[1:] == ["--patterns"]:
        print(" ".join(f"{name}__mutmut_*" for name in IMPORT_TIME))
        return
    with open(STATS, encoding="utf-8") as file:
        stats = json.load(file)
    everything = sorted(stats["duration_by_test"])
    for name in IMPORT_TIME:
        stats["tests_by_mangled_function_name"][name] = everything
    with open(STATS, "w", encoding="utf-8") as file:
        json.dump(stats, file)
    print(f"{len(everything)} tests for {len(IMPORT_TIME)} functions")


if __name__ == "__main__":
    main()
