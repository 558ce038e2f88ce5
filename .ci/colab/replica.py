"""Replay the notebooks' Colab setup cell on replicas of real Colab runtimes, then run the labs there.

Colab publishes what each of its runtimes holds (``pip freeze`` and the Python version, in the public
repository googlecolab/backend-info). Each file in ``runtimes/`` beside this script is one such
freeze, with three header lines naming the runtime, the commit it came from and its Python. For each
runtime this script:

1. builds a venv (``.venv-colab/<runtime>``, reused until the freeze changes) on that Python version,
   holding the freeze's versions of every package the course needs (the dependencies in
   ``pyproject.toml``, with everything they pull in) and of the Jupyter kernel stack;
2. installs the package exactly as the setup cell does (``pip install -q "<name> @ <source>"``, with
   the runtime's own pip) and fails if pip changed, added over or removed any package that was
   there before — first from pip's own plan (``--dry-run --report``), then from the venv itself;
3. runs pip's resolver with the *whole* freeze as constraints, which catches a clash with a package
   the course does not import (Colab's own ``google-colab`` pins IPython, for instance);
4. proves steps 2 and 3 can fail: a copy of the package whose IPython floor is raised past the
   runtime's must be caught by both;
5. starts a kernel on the venv and checks it imports the installed package and the freeze's versions;
6. runs the notebook tests (every solution in the smoke profile, every student copy up to TODO 1,
   the same assertions as ``make test``) on that kernel.

Usage (from the repository root; ``make test-colab`` runs the newest runtime and the oldest)::

    .venv/bin/python .ci/colab/replica.py                   # every runtime in runtimes/
    .venv/bin/python .ci/colab/replica.py 2026-08-19-a724079 # one runtime (file name without .txt)
    .venv/bin/python .ci/colab/replica.py --no-notebooks     # install checks only

Python versions are looked up as ``python3.X`` on PATH and under pyenv (``~/.pyenv/versions``); a
missing one stops with the command that installs it. ``COLAB_PYTHON_3_13=/path/to/python`` (and so
on) names one explicitly.
"""

import argparse
import hashlib
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import tomllib

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
RUNTIMES = HERE / "runtimes"

# The Jupyter kernel stack a Colab notebook runs on. The replica holds the freeze's versions of
# these (and of what they pull in) besides the course's own dependencies.
KERNEL_STACK = [
    "ipython", "ipykernel", "ipywidgets", "jupyter_client", "jupyter_core", "traitlets", "pyzmq",
    "tornado", "psutil", "debugpy", "nest-asyncio", "matplotlib-inline", "widgetsnbextension",
    "jupyterlab_widgets",
]

# The notebook tests that need a kernel: what the replica runs on the runtime's kernel.
NOTEBOOK_TESTS = ["tests/test_notebooks.py", "-k",
                  "smoke_profile or stops_at_todo or tidy or playable or mp4"]


class ReplicaError(Exception):
    """A check failed; the message says which and what to do."""


def log(message):
    print(f"[colab {time.strftime('%H:%M:%S')}] {message}", flush=True)


def normalize(name):
    """PEP 503 name: the form pip compares names in."""
    return re.sub(r"[-_.]+", "-", name).lower()


# ------------------------------------------------------------------------------------------------
# Freezes and the project's dependencies
# ------------------------------------------------------------------------------------------------
class Runtime:
    """One freeze file: its name, header facts, pinned versions and constraint lines."""

    def __init__(self, path):
        self.path = pathlib.Path(path)
        self.name = self.path.stem
        self.text = self.path.read_text()
        header = dict(re.findall(r"^# (source|python): (.+)$", self.text, re.M))
        missing = [key for key in ("source", "python") if key not in header]
        if missing:
            raise ReplicaError(f"{self.path}: header line(s) {', '.join('# ' + k + ': …' for k in missing)} missing; "
                               "see .ci/colab/README.md for the three header lines a freeze file starts with")
        self.label = re.search(r"^# Colab runtime: (.+)$", self.text, re.M)
        self.label = self.label.group(1) if self.label else self.name
        self.source = header["source"]
        self.python = header["python"].strip()
        self.python_minor = ".".join(self.python.split(".")[:2])
        self.pins = {}        # normalized name -> version, for name==version lines
        self.constraints = [] # lines pip accepts as constraints (direct references are not)
        self.unpinned = []    # lines left out of the constraints, with why
        for line in self.text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", line)
            if match:
                self.pins[normalize(match.group(1))] = match.group(2)
                self.constraints.append(line)
            else:
                self.unpinned.append(line)

    def __repr__(self):
        return f"Runtime({self.name}: Python {self.python})"


def load_runtimes(names=None):
    paths = sorted(RUNTIMES.glob("*.txt"))
    if not paths:
        raise ReplicaError(f"no freeze files in {RUNTIMES}")
    runtimes = {p.stem: Runtime(p) for p in paths}
    if not names:
        return list(runtimes.values())
    unknown = [n for n in names if n not in runtimes]
    if unknown:
        raise ReplicaError(f"unknown runtime(s) {', '.join(unknown)}; known: {', '.join(runtimes)}")
    return [runtimes[n] for n in names]


def project(root=ROOT):
    """(distribution name, [requirement strings]) of the student package's pyproject.toml."""
    data = tomllib.loads((pathlib.Path(root) / "pyproject.toml").read_text())
    return data["project"]["name"], list(data["project"]["dependencies"])


def requirement_name(requirement):
    return normalize(re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement).group(1))


def unmet_requirements(requirements, runtime):
    """The requirements that the runtime's own version of that package does not satisfy.

    This is pip's first reason to replace a preinstalled package; it is checked without any
    network or venv, so a floor raised past Colab's (``ipython>=8``) fails a fast test.
    """
    from packaging.requirements import Requirement

    unmet = []
    for text in requirements:
        requirement = Requirement(text)
        version = runtime.pins.get(normalize(requirement.name))
        if version is not None and not requirement.specifier.contains(version, prereleases=True):
            unmet.append(f"{text} (the runtime has {requirement.name} {version})")
    return unmet


def changes(before, after, ignore=()):
    """Packages whose version changed or that disappeared between two {name: version} maps."""
    ignore = {normalize(n) for n in ignore}
    found = []
    for name, version in sorted(before.items()):
        if name in ignore:
            continue
        if name not in after:
            found.append(f"{name} {version} removed")
        elif after[name] != version:
            found.append(f"{name} {version} -> {after[name]}")
    return found


def planned_changes(before, report, ignore=()):
    """What a ``pip install --dry-run --report`` plan would change among ``before``'s packages."""
    planned = {normalize(item["metadata"]["name"]): item["metadata"]["version"] for item in report.get("install", [])}
    ignore = {normalize(n) for n in ignore}
    return [f"{name} {before[name]} -> {version}" for name, version in sorted(planned.items())
            if name in before and name not in ignore and before[name] != version]


# ------------------------------------------------------------------------------------------------
# Venvs
# ------------------------------------------------------------------------------------------------
def find_python(minor):
    override = os.environ.get(f"COLAB_PYTHON_{minor.replace('.', '_')}")
    candidates = [override] if override else []
    candidates.append(shutil.which(f"python{minor}"))
    pyenv = pathlib.Path(os.environ.get("PYENV_ROOT", pathlib.Path.home() / ".pyenv")) / "versions"
    candidates += [str(p) for p in sorted(pyenv.glob(f"{minor}.*/bin/python{minor}"), reverse=True)]
    for candidate in filter(None, candidates):
        try:
            out = subprocess.run([candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                 capture_output=True, text=True, timeout=60)
        except OSError:
            continue
        if out.returncode == 0 and out.stdout.strip() == minor:
            return candidate
    raise ReplicaError(
        f"no Python {minor} found (looked for python{minor} on PATH, under {pyenv}, and COLAB_PYTHON_{minor.replace('.', '_')}); "
        f"install it, e.g. `pyenv install {minor}` or `uv python install {minor}`, or point "
        f"COLAB_PYTHON_{minor.replace('.', '_')} at one")


def run(cmd, *, check=True, capture=False, env=None, **kwargs):
    result = subprocess.run([str(c) for c in cmd], text=True, capture_output=capture, env=env, **kwargs)
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout or "").strip()[-3000:] if capture else ""
        raise ReplicaError(f"command failed (exit {result.returncode}): {' '.join(map(str, cmd))}\n{detail}")
    return result


def pip_env():
    """pip's environment: quiet about its own version; no stray index configuration of this machine."""
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def installed(python):
    out = run([python, "-m", "pip", "list", "--format=json"], capture=True, env=pip_env()).stdout
    return {normalize(item["name"]): item["version"] for item in json.loads(out)}


def constraints_file(runtime, folder):
    path = pathlib.Path(folder) / f"{runtime.name}.constraints.txt"
    path.write_text("\n".join(runtime.constraints) + "\n")
    return path


def ensure_venv(runtime, venvs, requirement_names):
    """The runtime's venv, built from scratch when its freeze or the course's package list changed."""
    venv = pathlib.Path(venvs) / runtime.name
    python = venv / "bin" / "python"
    wanted = sorted(set(requirement_names) | {normalize(n) for n in KERNEL_STACK})
    key = hashlib.sha256((runtime.text + "\n".join(wanted)).encode()).hexdigest()[:16]
    stamp = venv / f".replica-{key}"
    if stamp.is_file() and python.is_file():
        log(f"{runtime.name}: reusing {venv}")
        return python
    base = find_python(runtime.python_minor)
    log(f"{runtime.name}: building {venv} on {base} with the freeze's versions of {len(wanted)} packages")
    if venv.exists():
        shutil.rmtree(venv)
    run([base, "-m", "venv", venv])
    env = pip_env()
    tools = [f"{n}=={runtime.pins[n]}" for n in ("pip", "setuptools", "wheel") if n in runtime.pins]
    run([python, "-m", "pip", "install", "-q", *tools], env=env)
    with tempfile.TemporaryDirectory() as tmp:
        constraints = constraints_file(runtime, tmp)
        not_in_colab = [n for n in wanted if n not in runtime.pins]
        if not_in_colab:
            log(f"{runtime.name}: not in this runtime, left out of the replica: {', '.join(not_in_colab)}")
        pins = [f"{n}=={runtime.pins[n]}" for n in wanted if n in runtime.pins]
        run([python, "-m", "pip", "install", "-q", "-c", constraints, *pins], env=env)
    stamp.write_text(f"{runtime.source}\n{' '.join(wanted)}\n")
    return python


# ------------------------------------------------------------------------------------------------
# The checks
# ------------------------------------------------------------------------------------------------
def dry_run(python, spec, constraints=None):
    """pip's plan for installing ``spec`` (returncode, report dict or None, stderr)."""
    cmd = [python, "-m", "pip", "install", "-q", "--dry-run", "--report", "-", spec]
    if constraints:
        cmd[4:4] = ["-c", constraints]
    result = run(cmd, check=False, capture=True, env=pip_env())
    report = json.loads(result.stdout) if result.returncode == 0 and result.stdout.strip() else None
    return result.returncode, report, result.stderr


def check_setup_install(python, runtime, source, name):
    """Install as the setup cell does; return the packages it added. Raises on any change."""
    spec = f"{name} @ {pathlib.Path(source).resolve().as_uri()}"
    run([python, "-m", "pip", "uninstall", "-q", "-y", name], check=False, capture=True, env=pip_env())
    before = installed(python)
    code, report, err = dry_run(python, spec)
    if code != 0:
        raise ReplicaError(f"{runtime.name}: pip cannot plan the setup cell's install:\n{err.strip()[-3000:]}")
    planned = planned_changes(before, report, ignore=[name])
    if planned:
        raise ReplicaError(f"{runtime.name}: the setup cell's install would change Colab's packages: "
                           f"{'; '.join(planned)}. Lower the floor in pyproject.toml to what this runtime ships.")
    run([python, "-m", "pip", "install", "-q", spec], env=pip_env())
    after = installed(python)
    changed = changes(before, after, ignore=[name])
    if changed:
        raise ReplicaError(f"{runtime.name}: the setup cell's install changed Colab's packages: {'; '.join(changed)}")
    if normalize(name) not in after:
        raise ReplicaError(f"{runtime.name}: {name} is not installed after the setup cell's install")
    added = sorted(set(after) - set(before) - {normalize(name)})
    run([python, "-m", "pip", "check"], capture=True, env=pip_env())
    return added


def check_resolver(python, runtime, source, name):
    """pip's resolver accepts the package with the whole freeze as constraints."""
    spec = f"{name} @ {pathlib.Path(source).resolve().as_uri()}"
    with tempfile.TemporaryDirectory() as tmp:
        code, report, err = dry_run(python, spec, constraints_file(runtime, tmp))
    if code != 0:
        raise ReplicaError(f"{runtime.name}: pip's resolver rejects the package against the whole freeze "
                           f"({len(runtime.constraints)} constraints):\n{err.strip()[-3000:]}")
    return sorted(normalize(i["metadata"]["name"]) for i in report.get("install", []))


def clashing_copy(folder, runtime):
    """A copy of the package whose IPython floor is one major version above the runtime's."""
    folder = pathlib.Path(folder)
    for item in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(ROOT / item, folder / item)
    shutil.copytree(ROOT / "mitdeeplearning", folder / "mitdeeplearning",
                    ignore=shutil.ignore_patterns("__pycache__"))
    major = int(runtime.pins["ipython"].split(".")[0]) + 1
    text = (folder / "pyproject.toml").read_text()
    raised, count = re.subn(r'"ipython>=[^"]*"', f'"ipython>={major}"', text)
    if count != 1:
        raise ReplicaError("pyproject.toml has no single \"ipython>=…\" dependency for the self-test to raise")
    (folder / "pyproject.toml").write_text(raised)
    return folder, f"ipython>={major}"


def self_test(python, runtime, name):
    """Both install checks must reject a package that asks for a newer IPython than Colab's."""
    with tempfile.TemporaryDirectory() as tmp:
        source, floor = clashing_copy(tmp, runtime)
        before = installed(python)
        spec = f"{name} @ {source.as_uri()}"
        code, report, err = dry_run(python, spec)
        planned = planned_changes(before, report or {}, ignore=[name])
        if code != 0 or not any(p.startswith("ipython ") for p in planned):
            raise ReplicaError(f"{runtime.name}: self-test: the change check did not see that {floor} replaces "
                               f"IPython {runtime.pins['ipython']} (plan: {planned}, exit {code})")
        try:
            check_resolver(python, runtime, source, name)
        except ReplicaError:
            pass  # expected: the clash is what the self-test is for
        else:
            raise ReplicaError(f"{runtime.name}: self-test: the resolver accepted {floor} against the freeze")
    return floor


def check_kernel(python, runtime, kernels):
    """A kernel of the replica imports the installed package and the freeze's versions."""
    probe = textwrap.dedent("""
        import json, sys
        import mitdeeplearning, tensorflow, keras, numpy, IPython, ipykernel, ipywidgets
        print(json.dumps({"python": sys.executable, "mitdeeplearning": mitdeeplearning.__file__,
                          "tensorflow": tensorflow.__version__, "keras": keras.__version__,
                          "numpy": numpy.__version__, "ipython": IPython.__version__,
                          "ipykernel": ipykernel.__version__, "ipywidgets": ipywidgets.__version__}))
    """)
    from jupyter_client.manager import start_new_kernel

    env = dict(os.environ, JUPYTER_PATH=str(kernels))
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(kernels)
    try:
        # started away from the checkout, whose mitdeeplearning/ would shadow the installed copy
        manager, client = start_new_kernel(kernel_name="python3", env=env, cwd=tempfile.gettempdir())
    finally:
        os.environ.pop("JUPYTER_PATH") if old is None else os.environ.__setitem__("JUPYTER_PATH", old)
    lines, widgets, todo = [], [], []
    try:
        reply = client.execute_interactive(probe, timeout=180, output_hook=lines.append)
        if reply["content"]["status"] == "ok":
            # what a student sees in a live notebook: a widget progress bar, and an unwritten TODO
            # that brings its error into view (a script output, then the error)
            client.execute_interactive(WIDGET_PROBE, timeout=60, output_hook=widgets.append)
            client.execute_interactive(TODO_PROBE, timeout=60, output_hook=todo.append)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    if reply["content"]["status"] != "ok":
        raise ReplicaError(f"{runtime.name}: the kernel could not import the course: {reply['content'].get('evalue')}")
    problems = _live_notebook_problems(widgets, todo)
    text = "".join(m["content"].get("text", "") for m in lines if m["msg_type"] == "stream")
    seen = json.loads(text.strip().splitlines()[-1])
    venv = str(pathlib.Path(python).parent.parent)
    if not seen["python"].startswith(venv):
        problems.append(f"the kernel runs {seen['python']}, not the replica's Python")
    if not seen["mitdeeplearning"].startswith(venv):
        problems.append(f"mitdeeplearning imported from {seen['mitdeeplearning']}, not from the replica")
    for package in ("tensorflow", "keras", "numpy", "ipython", "ipykernel", "ipywidgets"):
        if runtime.pins.get(package) != seen[package]:
            problems.append(f"{package} {seen[package]} in the kernel, {runtime.pins.get(package)} in the freeze")
    if problems:
        raise ReplicaError(f"{runtime.name}: " + "; ".join(problems))
    return seen


WIDGET_PROBE = """
import os
os.environ.pop("MDL_TEXT_PROGRESS", None)
import mitdeeplearning as mdl
for _ in mdl.util.tqdm(range(3), desc="probe"):
    pass
"""
TODO_PROBE = 'raise NotImplementedError("TODO 1: probe")'


def _live_notebook_problems(widgets, todo):
    """What the widget and TODO probes' messages (iopub, in order) show that a student would not want."""
    def kinds(messages):
        return [(m["msg_type"], sorted(m["content"].get("data", {}))) for m in messages
                if m["msg_type"] in ("display_data", "stream", "error")]

    problems = []
    errors = [m["content"] for m in widgets if m["msg_type"] == "error"]
    stderr = "".join(m["content"]["text"] for m in widgets if m["msg_type"] == "stream" and m["content"]["name"] == "stderr")
    if errors or stderr.strip():
        problems.append(f"the widget progress bar failed: {errors or stderr.strip()[:500]}")
    elif not any("application/vnd.jupyter.widget-view+json" in m["content"].get("data", {})
                 for m in widgets if m["msg_type"] == "display_data"):
        problems.append(f"mdl.util.tqdm showed no widget in a live kernel (outputs: {kinds(widgets)})")
    shown = kinds(todo)
    script = next((i for i, (kind, data) in enumerate(shown) if kind == "display_data" and "application/javascript" in data), None)
    error = next((i for i, (kind, _) in enumerate(shown) if kind == "error"), None)
    if script is None or error is None or script > error:
        problems.append(f"an unwritten TODO's error is not preceded by the script that scrolls it into view (outputs: {shown})")
    elif next(m for m in todo if m["msg_type"] == "error")["content"]["ename"] != "NotImplementedError":
        problems.append("the TODO probe's error is not the NotImplementedError it raised")
    return problems


def kernelspec(python, venv):
    """A kernelspec folder whose ``python3`` kernel is the replica's Python (put on JUPYTER_PATH)."""
    kernels = pathlib.Path(venv) / "jupyter"
    spec = kernels / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (Colab replica)", "language": "python"}, indent=1))
    return kernels


def run_notebook_tests(runtime, kernels, extra_args=()):
    # MDL_KERNEL_PACKAGE=installed: the kernels import the package the setup cell installed, not the checkout
    env = dict(os.environ, JUPYTER_PATH=str(kernels), MDL_KERNEL_PACKAGE="installed",
               MDL_OFFLINE=os.environ.get("MDL_OFFLINE", "1"),
               MDL_DATA_DIR=os.environ.get("MDL_DATA_DIR", str(ROOT / "data")))
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *NOTEBOOK_TESTS, *extra_args]
    log(f"{runtime.name}: notebook tests on the replica's kernel: {' '.join(cmd[1:])}")
    result = subprocess.run(cmd, cwd=ROOT, env=env)
    if result.returncode != 0:
        raise ReplicaError(f"{runtime.name}: notebook tests failed on the replica (exit {result.returncode}); "
                           "the output above says which")


def replicate(runtime, venvs, notebooks=True):
    start = time.perf_counter()
    name, requirements = project()
    log(f"{runtime.name}: {runtime.label}; {runtime.source}; Python {runtime.python}")
    unmet = unmet_requirements(requirements, runtime)
    if unmet:
        raise ReplicaError(f"{runtime.name}: pyproject.toml asks for more than this runtime ships: {'; '.join(unmet)}")
    python = ensure_venv(runtime, venvs, [requirement_name(r) for r in requirements])
    added = check_setup_install(python, runtime, ROOT, name)
    log(f"{runtime.name}: setup cell's install changed no preinstalled package"
        + (f"; it added {', '.join(added)}" if added else ""))
    planned = check_resolver(python, runtime, ROOT, name)
    log(f"{runtime.name}: resolver accepts the package against all {len(runtime.constraints)} pins of the freeze "
        f"(it would install: {', '.join(planned) or 'nothing'})")
    floor = self_test(python, runtime, name)
    log(f"{runtime.name}: self-test: a copy of the package asking for {floor} is caught by both checks")
    kernels = kernelspec(python, pathlib.Path(venvs) / runtime.name)
    seen = check_kernel(python, runtime, kernels)
    log(f"{runtime.name}: kernel: Python {runtime.python_minor}, tensorflow {seen['tensorflow']}, keras {seen['keras']}, "
        f"numpy {seen['numpy']}, IPython {seen['ipython']}, ipykernel {seen['ipykernel']}, "
        f"ipywidgets {seen['ipywidgets']}; mitdeeplearning from the replica; a widget progress bar, and the "
        "script that scrolls a TODO error into view")
    if notebooks:
        run_notebook_tests(runtime, kernels)
    log(f"{runtime.name}: passed in {time.perf_counter() - start:.0f} s")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runtimes", nargs="*", help="freeze names (file names in runtimes/ without .txt); default: all")
    parser.add_argument("--venvs", default=os.environ.get("COLAB_VENVS", str(ROOT / ".venv-colab")),
                        help="where the replica venvs live (default .venv-colab/)")
    parser.add_argument("--no-notebooks", action="store_true", help="install checks only")
    args = parser.parse_args(argv)
    try:
        runtimes = load_runtimes(args.runtimes)
        for runtime in runtimes:
            replicate(runtime, args.venvs, notebooks=not args.no_notebooks)
    except ReplicaError as exc:
        log(f"FAIL: {exc}")
        return 1
    log(f"all {len(runtimes)} runtime(s) passed: {', '.join(r.name for r in runtimes)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
