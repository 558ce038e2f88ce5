"""`bench --only` on a checkout without results/benchmarks.json keeps the other sections of the report."""

from mdl_tools import bench


def test_sections_not_measured_are_kept_from_the_committed_report():
    previous = "\n".join([
        "# Results", "", "## Lab 1: music generation (Part 2)", "", "lab one numbers", "",
        "## Lab 2: MNIST (Part 1)", "", "mnist numbers", "## Lab 2: debiasing face detection (Part 2)", "bias numbers",
        "## Lab 3: reinforcement learning", "old lab three", "## Test suite", "old suite line", "",
    ])
    data = {"sections": {"tests": {"run": {"recorded": False}}}}
    text = bench.render(data, "docs/figures", previous)
    assert "lab one numbers" in text and "mnist numbers" in text and "bias numbers" in text
    assert "old lab three" in text
    assert "old suite line" not in text  # re-measured sections replace their old text
    assert text.index("lab one numbers") < text.index("mnist numbers") < text.index("old lab three")


def test_without_a_previous_report_only_measured_sections_appear():
    text = bench.render({"sections": {"tests": {"run": {"recorded": False}}}}, "docs/figures", None)
    assert "## Lab 1" not in text and "## Test suite" in text
