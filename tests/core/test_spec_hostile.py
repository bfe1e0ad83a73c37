"""Spec files and values that are not what they claim: each is refused in one line, before any work.

Through the real command line, in a child that is timed and whose peak memory is measured: /dev/zero,
a named pipe, a folder, a file over the size cap, a key given twice, nesting 100,000 deep, an integer
of 5,000 digits, 1e400, a NaN literal, an over-long description, and --lr 1e300 / inf / nan. In process:
each message names its field, the bounds' edges pass, the tables' byte-order mark is accepted, and a
save that fails midway leaves the spec that was there.
"""
from __future__ import annotations

import errno
import io
import json
import os
import socket
import time
from pathlib import Path

import pytest

from aegui.core.presets import get_preset
from aegui.core.serialize import MAX_INTEGER_DIGITS, MAX_JSON_DEPTH, SpecError, loads_json
from aegui.core.spec import MAX_SPEC_BYTES, AutoencoderSpec
from aegui.core.validation import MAX_DESCRIPTION_CHARS, check

ROOT = Path(__file__).resolve().parents[2]
SAFETY_NET_MB = 3000  # the child's address-space cap: a regression fails with MemoryError, not a swamped machine


def spec_text(**train) -> str:
    """The ae preset (which fits the default data) as JSON, with ``train`` fields changed."""
    data = get_preset("ae").to_dict()
    data["train"].update(train)
    return json.dumps(data, indent=2)


def with_raw_value(field: str, literal: str) -> str:
    """A spec whose train.``field`` is the raw JSON ``literal`` (json.dumps cannot write NaN as a literal)."""
    text = spec_text(**{field: "@@"})
    assert text.count('"@@"') == 1
    return text.replace('"@@"', literal)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / "in" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def train_cli(probe, tmp_path: Path, spec_path, *extra: str):
    return probe(["main.py", "train", "--spec", str(spec_path), "--epochs", "1", "--quiet", "--limit", "200",
                  "--out", str(tmp_path / "out"), *extra], cwd=ROOT, timeout=60, rss_limit_mb=SAFETY_NET_MB)


def assert_refused(result, tmp_path: Path, *words: str) -> str:
    assert result.rc == 2, result
    assert len(result.error_lines) == 1 and result.error_lines[0].startswith("error: "), result
    line = result.error_lines[0]
    for word in words:
        assert word in line, (word, line)
    assert len(line) < 300, line  # the message quotes the problem, never the file
    assert not list(tmp_path.glob("out*")), "an output folder was made before the spec was refused"
    return line


# --- through the command line ---------------------------------------------------------------------------------
def _dev_zero(tmp_path):
    return Path("/dev/zero"), ("/dev/zero", "is a device, not a file")


def _named_pipe(tmp_path):
    path = tmp_path / "in" / "pipe.json"
    path.parent.mkdir()
    os.mkfifo(path)  # nobody ever writes: opening it for reading would wait forever
    return path, ("pipe.json", "is a named pipe, not a file")


def _folder(tmp_path):
    path = tmp_path / "in" / "folder.json"
    path.mkdir(parents=True)
    return path, ("is a folder, not a file",)


def _over_the_cap(tmp_path):
    text = spec_text().replace('"description": "', '"description": "' + "x" * 2_000_000, 1)
    return write(tmp_path, "huge.json", text), ("2,00", "a spec is at most 1 MB")


def _key_twice(tmp_path):
    text = spec_text().replace('"lr": ', '"lr": 0.5, "lr": ', 1)
    return write(tmp_path, "twice.json", text), ("train.lr", "more than once")


def _deep(tmp_path):
    return write(tmp_path, "deep.json", "[" * 100_000 + "]" * 100_000), (f"more than {MAX_JSON_DEPTH} deep",)


def _long_integer(tmp_path):
    return write(tmp_path, "digits.json", with_raw_value("seed", "7" * 5000)), ("train.seed", "5,000 digits")


def _too_large_a_float(tmp_path):
    return write(tmp_path, "1e400.json", with_raw_value("lr", "1e400")), ("train.lr", "1e400 is too large")


def _nan_literal(tmp_path):
    return write(tmp_path, "nan.json", with_raw_value("lr", "NaN")), ("train.lr", "NaN is not a number")


def _long_description(tmp_path):
    # Under the file cap, over the description's: refused by validation, before the data is loaded.
    text = spec_text().replace('"description": "', '"description": "' + "x" * 20_000, 1)
    return write(tmp_path, "essay.json", text), ("description", "20,0", f"{MAX_DESCRIPTION_CHARS:,}")


@pytest.mark.parametrize("make", [_dev_zero, _named_pipe, _folder, _over_the_cap, _key_twice, _deep, _long_integer,
                                  _too_large_a_float, _nan_literal, _long_description],
                         ids=lambda make: make.__name__.strip("_"))
def test_a_hostile_spec_file_is_one_line_and_exit_2_before_any_work(probe, tmp_path, make):
    path, words = make(tmp_path)
    result = train_cli(probe, tmp_path, path)
    assert_refused(result, tmp_path, *words)
    # /dev/zero reached 3 GB in 8 s, and a pipe waited forever; refused by the stat, each takes 1.7 s
    # (importing torch) and 222 MB. The time is generous for a busy machine.
    assert result.peak_mb < 400 and result.seconds < 20, result


@pytest.mark.parametrize("lr", ["1e300", "inf", "nan"])
def test_an_impossible_learning_rate_on_the_command_line_is_refused_before_any_folder(probe, tmp_path, lr):
    # 1e300 passed validation once, then Adam raised "value cannot be converted to type float without overflow".
    result = train_cli(probe, tmp_path, write(tmp_path, "ok.json", spec_text()), "--lr", lr)
    assert_refused(result, tmp_path, "train.lr")


def test_a_spec_file_with_a_byte_order_mark_trains(probe, tmp_path):
    path = tmp_path / "in" / "bom.json"
    path.parent.mkdir()
    path.write_bytes(b"\xef\xbb\xbf" + spec_text().encode("utf-8"))
    result = train_cli(probe, tmp_path, path)
    assert result.rc == 0, result
    expected = AutoencoderSpec.load(path)
    expected.train.epochs = 1  # as --epochs says
    assert AutoencoderSpec.load(tmp_path / "out" / "spec.json") == expected


# --- in process: each message names what is wrong, and where ------------------------------------------------------
def issues_of(text: str) -> list[tuple[str, str]]:
    with pytest.raises(SpecError) as info:
        AutoencoderSpec.from_json(text)
    return info.value.issues


def test_a_key_given_twice_is_named_with_its_full_path():
    data = get_preset("deep").to_dict()
    text = json.dumps(data).replace('"units": ', '"units": 3, "units": ', 1)
    assert issues_of(text) == [("encoder.layers[0].units", "is given more than once in the same object; "
                                                           "give each field once")]
    assert [p for p, _ in issues_of('{"name": "a", "name": "b", "name": "c"}')] == ["name"]


@pytest.mark.parametrize("literal, words", [
    ("NaN", "NaN is not a number"), ("Infinity", "Infinity is not a number"),
    ("-Infinity", "-Infinity is not a number"), ("1e400", "1e400 is too large"), ("-1e400", "-1e400 is too large"),
    ("1" * 400 + ".5", "is too large"),
])
def test_numbers_no_float_holds_are_refused_at_their_field(literal, words):
    [(path, message)] = issues_of(with_raw_value("lr", literal))
    assert path == "train.lr" and words in message and len(message) < 80


def test_every_refused_value_is_reported_at_once():
    text = with_raw_value("lr", "NaN").replace('"seed": 0', '"seed": ' + "9" * 4301)
    assert [p for p, _ in issues_of(text)] == ["train.lr", "train.seed"]


def test_the_bounds_themselves_are_accepted():
    nested = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert loads_json(nested) is not None
    with pytest.raises(SpecError, match=f"more than {MAX_JSON_DEPTH} deep"):
        loads_json("[" + nested + "]")
    assert loads_json("9" * MAX_INTEGER_DIGITS) == int("9" * MAX_INTEGER_DIGITS)
    with pytest.raises(SpecError, match=f"{MAX_INTEGER_DIGITS + 1} digits"):
        loads_json("-" + "9" * (MAX_INTEGER_DIGITS + 1))


def test_brackets_inside_text_are_not_nesting():
    spec = get_preset("ae")
    spec.description = '[{"[' * 200 + '\\"]'  # quotes and escapes inside the text, too
    assert AutoencoderSpec.from_json(spec.to_json()) == spec


def test_a_byte_order_mark_is_accepted_as_the_tables_accept_one(tmp_path):
    text = spec_text()
    assert AutoencoderSpec.from_json("\ufeff" + text) == AutoencoderSpec.from_json(text)
    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert AutoencoderSpec.load(tmp_path / "bom.json") == AutoencoderSpec.from_json(text)


def test_a_file_of_exactly_the_cap_loads_and_one_byte_more_is_refused(tmp_path):
    text = spec_text()
    path = tmp_path / "padded.json"
    path.write_text(text + " " * (MAX_SPEC_BYTES - len(text)), encoding="utf-8")
    assert AutoencoderSpec.load(path) == get_preset("ae")
    path.write_text(text + " " * (MAX_SPEC_BYTES - len(text) + 1), encoding="utf-8")
    with pytest.raises(SpecError, match="a spec is at most 1 MB"):
        AutoencoderSpec.load(path)


def test_a_spec_inside_a_project_is_bounded_as_a_file_is():
    # project.py and run.py parse a member with from_json: the same cap and the same JSON rules.
    with pytest.raises(SpecError, match="a spec is at most 1 MB"):
        AutoencoderSpec.from_json(spec_text() + " " * MAX_SPEC_BYTES)


def test_a_socket_is_not_a_spec_file(tmp_path):
    path = tmp_path / "sock.json"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(str(path))
        with pytest.raises(SpecError, match="is a socket, not a file"):
            AutoencoderSpec.load(path)
    finally:
        server.close()


def test_a_pipe_is_refused_without_waiting_for_a_writer(tmp_path):
    os.mkfifo(tmp_path / "pipe.json")
    started = time.perf_counter()
    with pytest.raises(SpecError, match="is a named pipe, not a file"):
        AutoencoderSpec.load(tmp_path / "pipe.json")
    assert time.perf_counter() - started < 1


def test_a_huge_description_from_a_dict_is_refused_with_a_short_message():
    data = get_preset("ae").to_dict()
    data["description"] = "x" * 2_000_000  # the GUI or a project hands over a dict, no file cap involved
    spec = AutoencoderSpec.from_dict(data)
    with pytest.raises(SpecError) as info:
        check(spec)
    assert info.value.issues == [("description", f"2,000,000 characters; a description has at most "
                                                 f"{MAX_DESCRIPTION_CHARS:,}")]


# --- saving --------------------------------------------------------------------------------------------------------
class _DiskFullHalfway(io.RawIOBase):
    """A file that takes half of the first write, then fails as a full disk does."""

    def __init__(self, real):
        self.real = real

    def writable(self):
        return True

    def write(self, data):
        self.real.write(data[: len(data) // 2])
        self.real.flush()
        raise OSError(errno.ENOSPC, "No space left on device")

    def close(self):
        self.real.close()
        super().close()


def test_a_save_that_fails_midway_leaves_the_previous_spec_intact(tmp_path, monkeypatch):
    path = tmp_path / "spec.json"
    good = get_preset("deep")
    good.save(path)
    before = path.read_bytes()
    real_open = Path.open

    def open_on_a_full_disk(self, mode="r", *args, **kwargs):
        handle = real_open(self, mode, *args, **kwargs)
        return _DiskFullHalfway(handle) if "w" in mode else handle

    monkeypatch.setattr(Path, "open", open_on_a_full_disk)  # both write_text and write_bytes open through it
    changed = get_preset("ae")
    changed.description = "a new description " * 200
    with pytest.raises(OSError) as info:
        changed.save(path)
    assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert path.read_bytes() == before and AutoencoderSpec.load(path) == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.json"]  # no temporary file left behind
