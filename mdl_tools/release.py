"""The instructor's course-level commands: fork the course, release a semester, publish the student copies.

    fork URL         point every link of the course (badges, Colab install lines, links to files of
                     this repository, the README's install line) at another GitHub repository
    release X.Y.Z    bump the package version (its one source), rebuild the notebooks, whose Colab
                     setup cell installs the tag vX.Y.Z, write a CHANGELOG.md entry, print the tag
    publish DIR      write a student-only tree (student notebooks, package, docs; no solutions)

Each command edits files and prints what it changed; none commits, tags or pushes: the printed
next steps do that, after the instructor has looked at the diff.
"""

import datetime
import fnmatch
import pathlib
import re
import shutil

from . import notebooks

CHANGELOG = "CHANGELOG.md"
_VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")
# What a student-only tree leaves out: the answers, and what only runs beside them.
PUBLISH_EXCLUDE = (
    "lab*/solutions/*",  # the answers
    "mdl_tools/*",  # instructor tooling: build, check, run, bench, grade
    "tests/*",  # the catalogues and notebook tests execute the solutions
    "benchmarks/*",  # they load the solution notebooks
    "browser_tests/*",  # they open the solution notebooks in JupyterLab
    ".ci/*",
    ".github/*",
    "Makefile",  # its targets call the instructor tooling
    CHANGELOG,
)


class ReleaseError(ValueError):
    """A release, fork or publication cannot go ahead; the message says why and what to do."""


def _log_default(*args, **kwargs):
    print(*args, **kwargs)


# --------------------------------------------------------------------------------------------
# Small text edits in place (one line each, so that comments and layout survive)
# --------------------------------------------------------------------------------------------


def _replace_line(path, pattern, replacement, what):
    """Replace the one line of ``path`` that matches ``pattern`` (a regex with the MULTILINE flag)."""
    text = path.read_text(encoding="utf-8")
    new, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    if count != 1:
        raise ReleaseError(f"{path}: expected one {what} line to rewrite, found {count}")
    path.write_text(new, encoding="utf-8")


def set_repository(root, url, branch=None):
    """Write ``repository`` (and ``branch``) into ``[tool.mitdeeplearning]`` of pyproject.toml."""
    path = pathlib.Path(root) / "pyproject.toml"
    text = path.read_text(encoding="utf-8")
    start = text.index("[tool.mitdeeplearning]")
    end = text.find("\n[", start + 1)
    end = len(text) if end == -1 else end + 1
    table = text[start:end]
    table, count = re.subn(r'^repository\s*=.*$', f'repository = "{url}"', table, flags=re.MULTILINE)
    if count != 1:
        raise ReleaseError(f"{path}: [tool.mitdeeplearning] has no single `repository = …` line to rewrite")
    if branch:
        table, count = re.subn(r'^branch\s*=.*$', f'branch = "{branch}"', table, flags=re.MULTILINE)
        if count == 0:
            table = table.replace(f'repository = "{url}"', f'repository = "{url}"\nbranch = "{branch}"')
    path.write_text(text[:start] + table + text[end:], encoding="utf-8")


def set_version(root, version):
    """Write ``version`` into the package's one version source; returns the files changed. The
    instructor tooling's distribution (``mdl_tools/pyproject.toml``), where present, follows it."""
    root = pathlib.Path(root)
    path, name = notebooks.version_source(root)
    if name is None:
        _replace_line(path, r'^version\s*=\s*"[^"]*"', f'version = "{version}"', "[project] version")
    else:
        _replace_line(path, rf'^{re.escape(name)}\s*=\s*"[^"]*"', f'{name} = "{version}"', name)
    changed = [path]
    tools = root / "mdl_tools" / "pyproject.toml"
    if tools.is_file():
        _replace_line(tools, r'^version\s*=\s*"[^"]*"', f'version = "{version}"', "[project] version")
        changed.append(tools)
    return changed


def rewrite_docs(root, old, new):
    """Replace ``old`` by ``new`` in the README and docs; returns the files changed."""
    changed = []
    for path in notebooks.doc_files(root):
        text = path.read_text(encoding="utf-8")
        if old in text:
            path.write_text(text.replace(old, new), encoding="utf-8")
            changed.append(path)
    return changed


# --------------------------------------------------------------------------------------------
# fork
# --------------------------------------------------------------------------------------------


def fork(url, root=None, branch=None, log=_log_default):
    """Point the course at ``url``: pyproject.toml, every notebook (rebuilt in canonical form) and
    the README / docs. Returns the files changed."""
    root = notebooks.find_root(root)
    url = notebooks.validate_repository(url)
    old = notebooks.load_config(root)
    set_repository(root, url, branch)
    changed = [root / "pyproject.toml"]
    changed += rewrite_docs(root, old["repository"], url)
    colab = "https://colab.research.google.com/github/"
    changed += rewrite_docs(root, old["repository"].replace("https://github.com/", colab),
                            url.replace("https://github.com/", colab))
    changed += notebooks.build(root=root, log=log, normalize=True)
    config = notebooks.load_config(root)
    log(f"The course now points at {url} (branch {config['branch']}); {len(set(changed))} file(s) changed.")
    log("Next: review `git diff`, commit, push, and push the tag the notebooks install:\n"
        f"  git tag v{config['version']} && git push origin {config['branch']} v{config['version']}")
    return sorted(set(changed))


# --------------------------------------------------------------------------------------------
# release
# --------------------------------------------------------------------------------------------


def _as_tuple(version):
    return tuple(int(part) for part in version.split("."))


def _changes_since(root, tag, package):
    """Subjects of the commits that touched ``package`` since ``tag`` (newest first), or None
    when the tag or git is missing."""
    if notebooks._git(root, "rev-parse", "-q", "--verify", f"refs/tags/{tag}").returncode != 0:
        return None
    done = notebooks._git(root, "log", "--format=%s", f"{tag}..HEAD", "--", package)
    if done.returncode != 0:
        raise ReleaseError(f"git log {tag}..HEAD failed: {done.stderr.strip()}")
    return [line for line in done.stdout.splitlines() if line.strip()]


def changelog_entry(version, previous, changes, date=None):
    """The CHANGELOG.md section of one release."""
    date = date or datetime.date.today().isoformat()
    lines = [f"## {version} ({date})", ""]
    if changes is None:
        lines.append(f"- No tag v{previous} in this repository, so the changes since {previous} are not "
                     "listed; write them here.")
    elif not changes:
        lines.append(f"- No change to the package since v{previous}; the notebooks are rebuilt to install v{version}.")
    else:
        lines += [f"- {subject}" for subject in changes]
    return "\n".join(lines) + "\n"


def write_changelog(root, entry):
    path = pathlib.Path(root) / CHANGELOG
    header = ("# Changelog\n\nWhat changed in the package the notebooks install (`mitdeeplearning release` writes "
              "an entry per release; edit it before committing).\n\n")
    old = path.read_text(encoding="utf-8") if path.is_file() else header
    cut = old.find("\n## ")
    text = old + "\n" + entry if cut == -1 else old[: cut + 1] + entry + "\n" + old[cut + 1 :]
    path.write_text(text, encoding="utf-8")
    return path


def release(version, root=None, log=_log_default):
    """Bump the package to ``version``, rebuild every notebook to install ``v<version>``, rewrite
    the README install line, add a CHANGELOG.md entry. Returns the files changed. Refuses a
    version that is not X.Y.Z or not above the current one, and a checkout that ``check`` fails."""
    root = notebooks.find_root(root)
    if not _VERSION_RE.match(version or ""):
        raise ReleaseError(f"version {version!r} is not of the form X.Y.Z (three numbers, e.g. 1.2.0)")
    config = notebooks.load_config(root)
    previous = config["version"]
    if _as_tuple(version) <= _as_tuple(previous):
        raise ReleaseError(f"version {version} is not above the current {previous}")
    if notebooks._git(root, "rev-parse", "-q", "--verify", f"refs/tags/v{version}").returncode == 0:
        raise ReleaseError(f"tag v{version} already exists: a released tag must keep meaning one package; "
                           "choose the next version")
    problems = notebooks.check(root)
    if problems:
        raise ReleaseError("mitdeeplearning check fails; fix these before a release:\n  " + "\n  ".join(problems))
    changes = _changes_since(root, f"v{previous}", config["package"])
    changed = set_version(root, version)
    new_config = notebooks.load_config(root)
    changed += rewrite_docs(root, notebooks.install_spec(config), notebooks.install_spec(new_config))
    changed += notebooks.build(root=root, log=log, normalize=True)
    changed.append(write_changelog(root, changelog_entry(version, previous, changes)))
    tag = f"v{version}"
    log(f"Release {version}: the notebooks now install {notebooks.install_spec(new_config)}.")
    for path in sorted(set(changed)):
        log(f"  changed {notebooks._relpath(path, root)}")
    log(f"Next: edit {CHANGELOG} if needed, then\n"
        f"  git commit -am \"Release {version}\" && git tag {tag} && git push origin {new_config['branch']} {tag}\n"
        f"Until {tag} is on GitHub, the notebooks' Colab setup cell fails.")
    return sorted(set(changed))


# --------------------------------------------------------------------------------------------
# publish
# --------------------------------------------------------------------------------------------


def _excluded(rel, exclude):
    return any(fnmatch.fnmatch(rel, pattern) for pattern in exclude)


def publish(out_dir, root=None, repository=None, replace=False, log=_log_default):
    """Write the student-only tree of the course into ``out_dir``; returns the files written.

    The files are those git tracks, less :data:`PUBLISH_EXCLUDE`; the student notebooks are built
    afresh with ``repository`` (the public repository the students use; default: the configured
    one) in their badges and install line, and pyproject.toml and the docs name it too. An
    existing ``out_dir`` must be empty, or ``replace`` must be set: then everything in it but
    ``.git`` is removed first (a clone of the public repository stays a clone).
    """
    root = notebooks.find_root(root)
    config = notebooks.load_config(root)
    public = notebooks.validate_repository(repository or config["repository"])
    out_dir = pathlib.Path(out_dir).resolve()
    if out_dir == root or out_dir.is_relative_to(root):
        raise ReleaseError(f"{out_dir} is inside the checkout; publish to a folder outside it")
    listed = notebooks._git(root, "ls-files", "-z")
    if listed.returncode != 0:
        raise ReleaseError(f"{root} is not a git checkout: publish copies the files git tracks ({listed.stderr.strip()})")
    if out_dir.exists() and any(p.name != ".git" for p in out_dir.iterdir()):
        if not replace:
            raise ReleaseError(f"{out_dir} is not empty; pass --replace to empty it (its .git is kept)")
        for path in out_dir.iterdir():
            if path.name != ".git":
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    problems = notebooks.check(root)
    if problems:
        raise ReleaseError("mitdeeplearning check fails; fix these before publishing:\n  " + "\n  ".join(problems))

    written = []
    for rel in sorted(filter(None, listed.stdout.split("\0"))):
        source = root / rel
        if _excluded(rel, PUBLISH_EXCLUDE) or not source.is_file():
            continue  # excluded, or deleted but not yet committed
        target = out_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        written.append(target)
    public_config = dict(config, repository=public)
    for solution_file in notebooks.solution_notebooks(root):
        _, student_text, _ = notebooks.render_pair(solution_file, root, public_config)
        target = out_dir / notebooks._relpath(notebooks.student_path(solution_file), root)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(student_text, encoding="utf-8")
        written.append(target)
    if public != config["repository"]:
        set_repository(out_dir, public)
        rewrite_docs(out_dir, config["repository"], public)
    mentions = _solution_mentions(out_dir)
    log(f"Published {len(set(written))} files to {out_dir} for {public} (no solutions, no instructor tooling).")
    for mention in mentions:
        log(f"  note: {mention}")
    log(f"Next: commit and push {out_dir} to {public}, with the tag v{config['version']} "
        f"(git tag v{config['version']} && git push origin {config['branch']} v{config['version']}).")
    return sorted(set(written))


def _solution_mentions(out_dir):
    """Lines of the published text files that name a solution notebook (links students cannot follow)."""
    mentions = []
    for path in sorted(out_dir.rglob("*")):
        if ".git" in path.parts or not path.is_file() or path.suffix not in (".md", ".ipynb", ".py", ".toml", ".txt"):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if "_Solution.ipynb" in line or "/solutions/" in line:
                mentions.append(f"{path.relative_to(out_dir).as_posix()}, line {number} names a solution notebook, "
                                "which this tree does not have")
    return mentions
