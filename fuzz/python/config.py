"""Fuzz target: Hugging Face ``config.json`` files through ``infera.model_from_config`` and ``model ... from``.

An input is a config file. :func:`infera.model_from_config` maps it; when it maps, a program reading the same
file with ``model m from "..."`` is compiled, and so is one with the block that the import writes out
(:attr:`~infera.ImportedModel.text`, what ``infera catalog import`` prints): the two must give the same model
and operators tables. Plans that fit the pool are checked and simulated.

Contract: only a ``FileError`` naming the file (a ``ConfigError`` for contents that cannot be mapped) or a
located ``CompileError`` (a field the model block refuses, a model that does not fit) comes out; the written-out
block means what the config means.

    python fuzz/run.py config --seconds 30
    mkdir -p fuzz/work/config
    python fuzz/python/config.py -max_total_time=30 -timeout=20 fuzz/work/config fuzz/corpus/config
"""

import harness
import infera
from infera.exceptions import FileError

RUN = """
traffic t { arrivals = burst, prompt = 40 tokens, output = 3 tokens, requests = 4 }
system s { pool p: 8 x h200_sxm, tp = 1, ep = 1 }
run r { model = m, traffic = t, system = s }
"""
FILE = "<config fuzz>"
CONFIG = harness.SCRATCH / "config.json"


def test_one_input(data: bytes) -> None:
    CONFIG.write_bytes(data)
    try:
        model = infera.model_from_config(CONFIG, name="m")
    except FileError as err:
        harness.located_file_error(err, CONFIG)
        return
    except infera.CompileError as err:
        harness.located_compile_error(err, FILE, 0)
        return
    imported = f'use chips.h200_sxm\nmodel m from "{CONFIG}"\n' + RUN
    written = "use chips.h200_sxm\n" + model.text + RUN
    plans = []
    for text in (imported, written):
        try:
            plans.append(infera.compile_text(text, file=FILE))
        except infera.CompileError as err:
            harness.located_compile_error(err, FILE, text.count("\n") + 1)
            plans.append(str(err.reason))
    if isinstance(plans[0], str) or isinstance(plans[1], str):
        assert plans[0] == plans[1], f"the config and its written-out block compile differently: {plans}"
        return
    for table in ("models", "operators"):
        assert plans[0][table].equals(plans[1][table]), f"the written-out block changes the {table} table"
    harness.check_and_simulate(plans[0])


if __name__ == "__main__":
    harness.main(test_one_input)
