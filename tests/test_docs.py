"""Every code block of README.md and docs/*.md runs and prints the output shown under it (see docs_blocks.py).

One test per python or bash block; the blocks of a file share one session (namespace and working folder, a
temporary one), in order. Slow blocks are marked ``slow``; GPU blocks skip without CuPy and a GPU. Regenerate the
shown outputs with ``python tests/docs_blocks.py --update README.md docs/*.md``.
"""

from pathlib import Path

import pytest
from docs_blocks import DocFormatError, Session, check, compare, doc_files, normalize, parse, update

import optcore


def _collect():
    params, problems = [], []
    for path in doc_files():
        try:
            blocks = parse(path)
        except DocFormatError as exc:
            problems.append(str(exc))
            continue
        for block in blocks:
            marks = []
            if block.skip:
                marks.append(pytest.mark.skip(reason=block.skip))
            if block.slow:
                marks.append(pytest.mark.slow)
            if block.gpu:
                marks.append(pytest.mark.gpu)
                marks.append(pytest.mark.skipif(not optcore.gpu_available(), reason="needs CuPy and a usable GPU"))
            params.append(pytest.param(path, block.line, id=block.name, marks=marks))
    return params, problems


PARAMS, PROBLEMS = _collect()


def test_docs_follow_the_block_rules():
    assert not PROBLEMS, "\n".join(PROBLEMS)


def test_docs_have_blocks():
    files = {p.values[0].name for p in PARAMS}
    assert "README.md" in files


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    opened = {}
    yield lambda path: opened.setdefault(path, Session(tmp_path_factory.mktemp(Path(path).stem)))
    for session in opened.values():
        session.close()


@pytest.mark.parametrize(("path", "line"), PARAMS)
def test_doc_block(path, line, sessions):
    blocks = parse(path)
    block = next(b for b in blocks if b.line == line)
    problem = check(block, sessions(path), blocks)
    if problem:
        pytest.fail(problem, pytrace=False)


# ---------------------------------------------------------------------------------- the collector's own rules


def _write(tmp_path, text):
    path = tmp_path / "doc.md"
    path.write_text(text)
    return path


def test_parse_pairs_blocks_with_their_output_and_directives(tmp_path):
    path = _write(tmp_path, (
        "intro\n\n<!-- docs-test: slow; rtol=0.1 -->\n```python\nprint(1)\n```\n```\n1\n```\n\n"
        "```python\nx = 2\n```\n\ntext\n\n```toml\n[a]\n```\n"
        "<!-- docs-test: skip installs the package -->\n```bash\npip install . && python -m pytest\n```\n"
        "```bash\npip install . && optcore list  # comment\nOPENBLAS_NUM_THREADS=1 python -m optcore run x --K 8\n```\n"
    ))
    blocks = parse(path)
    assert [(b.tag, b.output, b.slow) for b in blocks] == [
        ("python", "1", True), ("python", None, True), ("bash", None, False), ("bash", None, False)]
    assert blocks[0].rtol == 0.1
    assert blocks[2].skip == "installs the package"
    assert blocks[3].commands == [({}, ["list"]), ({"OPENBLAS_NUM_THREADS": "1"}, ["run", "x", "--K", "8"])]


@pytest.mark.parametrize(("text", "message"), [
    ("```\nan orphan table\n```\n", "untagged"),
    ("```bash\nls -l\n```\n", "not an optcore command"),
    ("```bash\npip install .\n```\n", "runs nothing"),
    ("<!-- docs-test: skip -->\n```bash\npip install .\n```\n", "needs a reason"),
    ("<!-- docs-test: fast -->\n```python\n1\n```\n", "unknown docs-test directive"),
    ("```python\nprint(1)\n", "never closed"),
])
def test_parse_rejects_what_cannot_be_checked(tmp_path, text, message):
    with pytest.raises(DocFormatError, match=message):
        parse(_write(tmp_path, text))


def test_compare_tolerates_rounding_column_widths_timings_and_paths(tmp_path):
    shown = "a   b\n1.0  2.000  cells in 1.28 s, wrote /x/tmp/out\n"
    printed = "a b\n1.0004 2  cells in 17 s, wrote <tmp>/out"
    assert compare(shown.replace("/x/tmp", "<tmp>"), printed) is None
    assert compare("1.0 in 3 s", "1.0 in 4.5 ms") is None
    assert normalize("at /x/tmp/y", Path("/x/tmp")) == "at <tmp>/y"


def test_compare_reports_numbers_and_text_with_a_diff():
    message = compare("gap 1.00e-3\nK=8", "gap 1.20e-3\nK=8")
    assert "shown 1.00e-3, printed 1.20e-3" in message and "-gap 1.00e-3" in message and "+gap 1.20e-3" in message
    assert "the text differs" in compare("gap 1", "gaps 1")
    assert compare("1.0", "1.2", rtol=0.5) is None


def test_session_shares_a_namespace_and_reports_failures(tmp_path):
    path = _write(tmp_path, (
        "```python\nx = 40\n```\n\n```python\nprint(x + 2)\n```\n```\n42\n```\n\n"
        "```python\nimport warnings; warnings.warn('careful')\nprint(1 / 0)\n```\n"
        "```bash\noptcore list\n```\n"
    ))
    blocks = parse(path)
    session = Session(tmp_path / "work")
    try:
        assert check(blocks[1], session, blocks) is None  # runs block 0 first
        failure = check(blocks[2], session, blocks)
        assert "UserWarning: careful" in failure and "ZeroDivisionError" in failure
        ok, printed = session.run(blocks[3], blocks)
        assert ok and "shuffling-rates" in printed
    finally:
        session.close()
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == []  # nothing written by these blocks


def test_update_rewrites_the_shown_outputs_from_a_run(tmp_path):
    path = _write(tmp_path, (
        "```python\nprint('answer', 6 * 7)\n```\n```\nanswer 41\n```\n\ntext\n\n"
        "<!-- docs-test: slow -->\n```python\nprint('slow')\n```\n```\nold\n```\n"
    ))
    assert update(path, slow=False, verbose=False)
    assert path.read_text().splitlines()[4] == "answer 42"
    assert "old" in path.read_text()  # the slow block was left alone
    assert update(path, verbose=False)
    assert "old" not in path.read_text() and "\nslow\n" in path.read_text()
