"""The ``mitdeeplearning`` command (instructor tooling): build, check, run, diff and benchmark the lab notebooks.

    mitdeeplearning build [--normalize] [NOTEBOOK …]  regenerate student copies from their solutions
    mitdeeplearning check [--catalogue]      fail on drift, leaked answers, marker typos, unchecked TODOs, …
    mitdeeplearning run [NOTEBOOK …|--all]   execute headless with a profile, write a summary
    mitdeeplearning diff [--drift] NOTEBOOK  per TODO: solution code vs the student stub
    mitdeeplearning bench [--quick]          measure every lab; regenerate RESULTS.md and docs/figures
    mitdeeplearning fork URL                 point the course (notebooks, docs) at another GitHub repository
    mitdeeplearning release X.Y.Z            bump the package, rebuild the notebooks to install vX.Y.Z, changelog
    mitdeeplearning publish DIR              write the student-only tree (no solutions) into DIR
    mitdeeplearning grade SUBMISSIONS…       grade submitted notebooks with their checks, each in a sandbox
"""

import argparse
import pathlib
import sys


def _cmd_build(args):
    from . import notebooks

    written = notebooks.build(args.notebooks or None, normalize=args.normalize)
    print(f"{len(written)} file(s) changed" if written else "everything up to date")
    return 0


def _cmd_check(args):
    from . import notebooks

    problems = notebooks.check()
    info, warnings = notebooks.warnings(catalogue=args.catalogue)
    for line in info:
        print(f"  · {line}")
    for warning in warnings:
        print(f"  ⚠ {warning}")
    if problems:
        print(f"{len(problems)} problem(s) ({notebooks.CELL_CONVENTION}):")
        for problem in problems:
            print(f"  ✘ {problem}")
        return 1
    count = len(notebooks.solution_notebooks(notebooks.find_root()))
    print(f"✔ {count} solution notebook(s) and their student copies are clean and in sync"
          + (f" ({len(warnings)} warning(s) above)" if warnings else ""))
    return 0


def _cmd_run(args):
    from . import notebooks, runner

    root = notebooks.find_root()
    if args.all:
        targets = notebooks.solution_notebooks(root)
    elif args.notebooks:
        targets = [pathlib.Path(n) for n in args.notebooks]
        missing = [str(t) for t in targets if not t.is_file()]
        if missing:
            print(f"error: no such notebook: {', '.join(missing)}", file=sys.stderr)
            return 2
    else:
        print("error: name notebooks to run, or --all for every solution notebook", file=sys.stderr)
        return 2
    out = pathlib.Path(args.out or root / "runs" / args.profile)
    try:
        results = runner.run_all(targets, args.profile, out, root, cell_timeout=args.timeout)
    except runner.RunLockedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nInterrupted: {out / 'summary.md'} says so and lists what ran.", file=sys.stderr)
        return 130
    summary = (out / "summary.md").read_text()
    print()
    print(summary)
    print(f"Executed notebooks and summary in {out}")
    return 0 if all(r.status == "ok" for r in results) else 1


def _cmd_diff(args):
    from . import notebooks

    text, drifted = notebooks.diff(args.notebook, drift=args.drift)
    print(text)
    return 1 if drifted else 0


def _cmd_fork(args):
    from . import release

    release.fork(args.url, branch=args.branch)
    return 0


def _cmd_release(args):
    from . import release

    release.release(args.version)
    return 0


def _cmd_publish(args):
    from . import release

    release.publish(args.dir, repository=args.repository, replace=args.replace)
    return 0


def _cmd_bench(args):
    from . import bench

    try:
        bench.main(quick=args.quick, only=args.only.split(",") if args.only else None, out=args.out,
                   extra_profile=args.extra_profile)
    except bench.BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv=None):
    from .notebooks import PROFILES  # the one list of profile names (no heavy imports)

    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["grade"]:  # grade parses its own options (mdl_tools/grade.py, docs/GRADING.md)
        from . import grade

        return grade.main(argv[1:])
    parser = argparse.ArgumentParser(prog="mitdeeplearning", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("grade", help="grade submitted notebooks with their checks, each in a sandbox (grade --help)")

    p = sub.add_parser("build", help="generate student notebooks from solutions")
    p.add_argument("notebooks", nargs="*", help="solution (or student) notebooks; default: all")
    p.add_argument("--normalize", action="store_true",
                   help="also rewrite the solutions in canonical form (TODO numbers, badges, metadata)")
    p.set_defaults(func=_cmd_build)

    p = sub.add_parser("check", help="drift, leak and hygiene checks of all notebooks")
    p.add_argument("--catalogue", action="store_true",
                   help="also count the mistake-catalogue entries of each TODO (pytest collects them: ~30 s)")
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser("run", help="execute notebooks headless with a profile")
    p.add_argument("notebooks", nargs="*", help="notebooks to run")
    p.add_argument("--all", action="store_true", help="run every solution notebook")
    p.add_argument("--profile", default="default", choices=PROFILES)
    p.add_argument("--out", help="folder for executed copies and the summary (default: runs/<profile>)")
    p.add_argument("--timeout", type=int, default=1800, help="seconds allowed per cell (default 1800)")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("diff", help="per TODO: solution code vs student stub")
    p.add_argument("notebook", help="a solution or student notebook")
    p.add_argument("--drift", action="store_true",
                   help="instead: committed student copy vs generated one (exit 1 when they differ)")
    p.set_defaults(func=_cmd_diff)

    p = sub.add_parser("bench", help="measure every lab; write results/benchmarks.json, RESULTS.md and docs/figures")
    p.add_argument("--quick", action="store_true", help="smoke profiles and tiny budgets (a few minutes), into results/quick/")
    p.add_argument("--only", help="comma-separated sections to re-measure (lab1,lab2,lab3,tests); the others are kept")
    p.add_argument("--out", help="write benchmarks.json, RESULTS.md and figures/ under this folder instead")
    p.add_argument("--extra-profile", choices=PROFILES,
                   help="also run every notebook in this profile, reported in its own column (default: full when a GPU is found)")
    p.set_defaults(func=_cmd_bench)

    p = sub.add_parser("fork", help="point every link of the course at another GitHub repository, rebuild")
    p.add_argument("url", help="https://github.com/<owner>/<name>")
    p.add_argument("--branch", help="the branch the badges open (default: keep the configured one)")
    p.set_defaults(func=_cmd_fork)

    p = sub.add_parser("release", help="bump the package version, rebuild the notebooks to install its tag, changelog")
    p.add_argument("version", help="the new version, X.Y.Z")
    p.set_defaults(func=_cmd_release)

    p = sub.add_parser("publish", help="write the student-only tree (no solutions, no instructor tooling)")
    p.add_argument("dir", help="an empty folder, or a clone of the public repository with --replace")
    p.add_argument("--repository", help="the public repository the students use (default: the configured one)")
    p.add_argument("--replace", action="store_true", help="empty DIR first (its .git is kept)")
    p.set_defaults(func=_cmd_publish)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as exc:  # NotebookFormatError, ProfileError, bad paths
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
