"""The labs as a student sees them: JupyterLab in a real browser (Debian's chromium, driven by playwright).

``make test-browser`` runs this file. It starts JupyterLab on 127.0.0.1 with a token on copies of
the notebooks (each solution with its ``smoke`` values in a cell after the parameters cell, as
papermill injects them), opens each one, runs all cells from the Run menu and checks what shows on
the page: no error, a quiet setup cell, progress bars drawn as widgets, audio and video that load
and play, one image in each live plot, the measured reference band in each live plot wired to one
(and the verdict line its cell prints), and a notebook that is not "modified" the moment it opens.
A student copy must stop at TODO 1 with the error in view. Screenshots go to ``runs/browser/``.
Every wait is on a condition in the page, with a deadline. Everything started is stopped at the
end, also on failure, and the test checks that no process of it is left.
"""

import json
import os
import pathlib
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import nbformat
import pytest

from mdl_tools import notebooks, runner

ROOT = notebooks.find_root(__file__)
SHOTS = ROOT / "runs" / "browser"
CHROMIUM = os.environ.get("MDL_CHROMIUM", "/usr/bin/chromium")
SOLUTIONS = [p.relative_to(ROOT).as_posix() for p in notebooks.solution_notebooks(ROOT)]
STUDENT = "lab1/Part1_TensorFlow.ipynb"
RUN_DEADLINE_S = 240  # one notebook's Run All in the smoke profile (the slowest takes about a minute)

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is installed by `make` (requirements.txt)")
if not pathlib.Path(CHROMIUM).exists():
    pytest.fail(f"{CHROMIUM} not found: `make test-browser` installs Debian's chromium (apt-get install chromium)",
                pytrace=False)


# --------------------------------------------------------------------------------------------
# Processes: JupyterLab (and the kernels it starts), chromium
# --------------------------------------------------------------------------------------------


def descendants(pid):
    """Every living process below ``pid`` in the process tree."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:  # it ended while we looked
                continue
            if fields[0] != "Z":
                parents.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(condition, timeout, what, interval=0.2):
    """Poll ``condition()`` until it returns a true value; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def smoke_copy(relpath, workdir):
    """``relpath`` under ``workdir`` with its smoke overrides in a cell after the parameters cell."""
    nb = notebooks.read_notebook(ROOT / relpath)
    overrides = runner.profile_overrides(nb, "smoke") if relpath in SOLUTIONS else {}
    if overrides:
        where = next(i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", []))
        cell = nbformat.v4.new_code_cell(
            "# the smoke profile (what the tests run)\n" + "".join(f"{k} = {v!r}\n" for k, v in overrides.items()),
            metadata={"tags": ["injected-parameters"]},
        )
        cell.pop("id", None)
        nb.cells.insert(where + 1, cell)
    target = workdir / relpath
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(notebooks._dumps(notebooks._strip_ids(nb)), encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on copies of the notebooks: ``(base_url, token, workdir, seen)``.

    ``seen`` collects the process ids the tests observed below this one (server, kernels,
    chromium); at the end every one of them must have ended.
    """
    base = tmp_path_factory.mktemp("jupyterlab")
    workdir = base / "notebooks"
    for relpath in SOLUTIONS + [STUDENT]:
        smoke_copy(relpath, workdir)
    settings = base / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(  # no "news" / update pop-ups over the page
        json.dumps({"fetchNews": "false", "checkForUpdates": False}), encoding="utf-8")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if k not in ("MDL_TEXT_PROGRESS", "TF_CPP_MIN_LOG_LEVEL")}
    env["MDL_OFFLINE"] = "1"
    env["JUPYTER_CONFIG_DIR"] = str(base / "config")  # none of the user's own Jupyter settings
    env["JUPYTER_RUNTIME_DIR"] = str(base / "runtime")
    log = open(base / "jupyterlab.log", "w")
    server = subprocess.Popen(
        [str(pathlib.Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={workdir}", f"--LabApp.user_settings_dir={base / 'settings'}",
         f"--LabApp.workspaces_dir={base / 'workspaces'}", "--LabApp.extension_manager=readonly"]
        + (["--allow-root"] if os.geteuid() == 0 else []),
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    seen = set()

    def ready():
        if server.poll() is not None:
            raise AssertionError(f"JupyterLab exited with {server.returncode}; see {base / 'jupyterlab.log'}")
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    try:
        wait_for(ready, 60, "JupyterLab to answer on 127.0.0.1")
        yield url, token, workdir, seen
    finally:
        seen.update(descendants(server.pid))
        _stop_kernels(url, token)
        server.send_signal(signal.SIGINT)  # Jupyter's own clean shutdown (kernels, then the server)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)
        log.close()
        SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(base / "jupyterlab.log", SHOTS / "jupyterlab.log")
        left = [pid for pid in seen if alive(pid)]
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        assert not left, f"processes left running after JupyterLab stopped: {left}"


def _stop_kernels(url, token):
    try:
        with urllib.request.urlopen(f"{url}/api/kernels?token={token}", timeout=5) as response:
            kernels = json.load(response)
    except OSError as exc:
        print(f"could not list kernels before the shutdown ({exc}); JupyterLab stops them itself")
        return
    for kernel in kernels:
        request = urllib.request.Request(f"{url}/api/kernels/{kernel['id']}?token={token}", method="DELETE")
        with urllib.request.urlopen(request, timeout=30):
            pass


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                  "--disable-background-networking", "--disable-component-update",
                  "--autoplay-policy=no-user-gesture-required"],
        )
        try:
            yield chromium
        finally:
            chromium.close()


# --------------------------------------------------------------------------------------------
# What the page shows
# --------------------------------------------------------------------------------------------

# One snapshot of the notebook panel: per code cell its prompt, widgets, images, media, errors.
SNAPSHOT_JS = """() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return null;
  const cells = [...panel.querySelectorAll('.jp-Cell.jp-CodeCell')].map(cell => {
    const out = cell.querySelector('.jp-OutputArea');
    const prompt = cell.querySelector('.jp-InputArea-prompt');
    return {
      prompt: prompt ? prompt.textContent.trim() : '',
      widgets: out ? out.querySelectorAll('.widget-progress, .jupyter-widget-progress, .widget-hprogress').length : 0,
      images: out ? out.querySelectorAll('img').length : 0,
      blank_stderr: out ? [...out.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
                    .filter(e => !e.textContent.trim()).length : 0,
      text: out ? out.textContent.slice(0, 2000) : '',
    };
  });
  const indicator = panel.querySelector('.jp-Notebook-ExecutionIndicator');
  const tab = document.querySelector('.lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-current');
  return {cells, status: indicator ? indicator.getAttribute('data-status') : null,
          dirty: tab ? tab.classList.contains('jp-mod-dirty') : null};
}"""

MEDIA_JS = """async () => {
  const report = [];
  for (const el of document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) audio, .jp-NotebookPanel:not(.lm-mod-hidden) video')) {
    el.muted = true;
    const started = await new Promise(resolve => {
      const done = ok => resolve(ok);
      if (el.error) return done(false);
      el.addEventListener('playing', () => done(true), {once: true});
      el.addEventListener('error', () => done(false), {once: true});
      el.play().catch(() => done(false));
      setTimeout(() => done(false), 20000);
    });
    const played = started && await new Promise(resolve => {
      const t0 = el.currentTime;
      const check = () => el.currentTime > t0 ? resolve(true) : null;
      el.addEventListener('timeupdate', check);
      setTimeout(() => resolve(el.currentTime > t0), 10000);
    });
    el.pause();
    report.push({tag: el.tagName.toLowerCase(), duration: el.duration, readyState: el.readyState,
                 error: el.error ? el.error.code : null, started, played});
  }
  return report;
}"""


def snapshot(page):
    return page.evaluate(SNAPSHOT_JS)


def open_notebook(page, url, token, relpath):
    """Open ``relpath``; wait for its kernel to be ready. Returns whether it was marked modified at
    any moment of the following 3 s.

    While the panel loads, JupyterLab flags it modified for a few tenths of a second and clears the
    flag itself, before the kernel has even started; what counts is the state once the kernel is
    ready (idle for a full second after start-up). A notebook whose metadata differs from what the
    kernel reports is rewritten about 1.5 s after that, and stays modified: the window catches it.
    """
    page.goto(f"{url}/lab/tree/{relpath}?reset&token={token}")
    idle_since = []

    def ready():
        s = snapshot(page)
        if not (s and s["status"] == "idle" and s["cells"]):
            idle_since.clear()
            return False
        idle_since[:] = idle_since or [time.monotonic()]
        return time.monotonic() - idle_since[0] >= 1.0

    wait_for(ready, 120, f"{relpath} to open with a ready kernel", interval=0.1)
    dirty, settled = False, time.monotonic() + 3
    while time.monotonic() < settled:  # a window of observation, not a wait for something to happen
        dirty = dirty or snapshot(page)["dirty"]
        time.sleep(0.1)
    return dirty


def run_all(page, relpath, deadline=RUN_DEADLINE_S):
    """Run all cells from the Run menu; sample the page until the kernel is idle and nothing is queued.

    Returns ``(final_snapshot, most_images_seen_per_progress_cell)``.
    """
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    wait_for(lambda: (s := snapshot(page))["status"] != "idle" or any(c["prompt"] not in ("[ ]:", "") for c in s["cells"]),
             30, f"{relpath} to start running")
    most_images = {}

    def finished():
        state = snapshot(page)
        for index, cell in enumerate(state["cells"]):
            if cell["widgets"] and "*" in cell["prompt"]:  # a training cell, while it trains
                # one live plot per training loop, as there is one bar per loop: never more images
                most_images[index] = max(most_images.get(index, 0), cell["images"] - cell["widgets"] + 1)
        busy = state["status"] != "idle" or any("*" in c["prompt"] for c in state["cells"])
        return None if busy else state

    state = wait_for(finished, deadline, f"{relpath} to finish running", interval=0.5)
    return state, most_images


def saved_outputs(page, path):
    """Save the notebook from the page (Ctrl+S) and read what JupyterLab wrote."""
    before = path.stat().st_mtime_ns
    page.keyboard.press("Control+s")
    wait_for(lambda: path.stat().st_mtime_ns != before and not snapshot(page)["dirty"], 30, f"{path.name} to be saved")
    return nbformat.read(path, as_version=4)


def reference_problems(nb):
    """What the training cells wired to a measured reference fail to show in the saved notebook.

    A cell that builds a ``PeriodicPlotter(..., reference=...)``, or hands a training function a loop
    id (``reference="lab2.debias.cnn"``, whose plot and verdict the function makes), must show a live
    plot whose PNG carries the band's legend (its text chunk ``mdl-reference``, written where the band
    is drawn), and such a cell, or one that calls ``verdict(``, must print its verdict line. Cells
    tagged ``reference`` only define those functions: they show nothing.
    """
    import base64
    import io

    from PIL import Image

    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or "reference" in cell.metadata.get("tags", []):
            continue
        hands_loop_id = 'reference="lab' in cell.source
        if hands_loop_id or ("PeriodicPlotter(" in cell.source and "reference=" in cell.source):
            images = [o["data"]["image/png"] for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
            legends = [Image.open(io.BytesIO(base64.b64decode(png))).text.get("mdl-reference", "") for png in images]
            if not legends or not all(legend.startswith("reference") for legend in legends):
                problems.append(f"cell {i}: its live plot shows no reference band (PNG legends {legends})")
        if hands_loop_id or "verdict(" in cell.source:
            text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
            if not any(line.startswith(("Verdict: ", "No verdict: ")) for line in text.splitlines()):
                problems.append(f"cell {i}: calls verdict but printed no verdict line")
    return problems


def setup_cell_indices(nb):
    """Code cells up to the one that calls print_environment (the cells a student runs first)."""
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    last = next(i for i in code if "print_environment" in nb.cells[i].source)
    return [i for i in code if i <= last]


@pytest.fixture(scope="module", autouse=True)
def screenshots():
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("*.png"):
        old.unlink()


@pytest.mark.parametrize("relpath", SOLUTIONS)
def test_solution_runs_cleanly_in_jupyterlab(relpath, lab, browser):
    url, token, workdir, seen = lab
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    name = relpath.replace("/", "_").removesuffix(".ipynb")
    try:
        assert not open_notebook(page, url, token, relpath), f"{relpath} is marked modified right after opening"
        state, most_images = run_all(page, relpath)
        seen.update(descendants(os.getpid()))
        page.screenshot(path=str(SHOTS / f"{name}.png"))
        nb = saved_outputs(page, workdir / relpath)

        errors = [(i, o.get("ename"), o.get("evalue")) for i, c in enumerate(nb.cells) if c.cell_type == "code"
                  for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, f"{relpath}: error output {errors}"
        unrun = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.execution_count is None]
        assert not unrun, f"{relpath}: cells {unrun} did not run"
        missing = reference_problems(nb)
        assert not missing, f"{relpath}: " + "; ".join(missing)
        for i in setup_cell_indices(nb):
            stderr = [o.get("text") for o in nb.cells[i].get("outputs", [])
                      if o.get("output_type") == "stream" and o.get("name") == "stderr"]
            assert not stderr, f"{relpath}: setup cell {i} printed to stderr: {stderr}"

        strips = [i for i, c in enumerate(state["cells"]) if c["blank_stderr"]]
        assert not strips, f"{relpath}: empty stderr strips under code cells {strips}"
        bars = [c for c in state["cells"] if c["widgets"]]
        text_bars = [c["text"][:120] for c in state["cells"] if "it/s]" in c["text"] or "%|" in c["text"]]
        assert not text_bars or bars, f"{relpath}: progress bars drawn as text: {text_bars}"
        if "tqdm" in "".join(c.source for c in nb.cells if c.cell_type == "code"):
            assert bars, f"{relpath}: the notebook uses progress bars but none rendered as a widget"
        crowded = {i: n for i, n in most_images.items() if n > 1}
        assert not crowded, f"{relpath}: a training cell showed several images at once {crowded}"
        live = [i for i, n in most_images.items() if n == 1]
        if live:  # the first training cell with its bar and live plot, for a human to look at
            cell = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell.jp-CodeCell").nth(live[0])
            cell.scroll_into_view_if_needed()
            cell.locator(".jp-OutputArea").screenshot(path=str(SHOTS / f"{name}-training.png"))

        media = page.evaluate(MEDIA_JS)
        for item in media:
            assert item["error"] is None and item["duration"] > 0, f"{relpath}: {item['tag']} does not load: {item}"
            assert item["played"], f"{relpath}: {item['tag']} did not play: {item}"
            if item["tag"] == "video":
                assert item["readyState"] >= 3, f"{relpath}: video not ready to play: {item}"
        expected = {"lab1/solutions/Part2_Music_Generation_Solution.ipynb": "audio",
                    "lab3/solutions/RL_Solution.ipynb": "video"}.get(relpath)
        if expected:
            assert any(m["tag"] == expected for m in media), f"{relpath}: no {expected} element on the page"
    except BaseException:
        page.screenshot(path=str(SHOTS / f"{name}-FAILED.png"))
        raise
    finally:
        page.close()


def test_student_copy_stops_at_todo_1_with_the_error_in_view(lab, browser):
    url, token, workdir, seen = lab
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        open_notebook(page, url, token, STUDENT)
        state, _ = run_all(page, STUDENT)
        seen.update(descendants(os.getpid()))
        page.screenshot(path=str(SHOTS / "student_lab1_Part1_TensorFlow.png"))
        failing = page.locator(".jp-OutputArea-output", has_text="NotImplementedError: TODO 1:")
        wait_for(lambda: failing.count() == 1, 10, "exactly one NotImplementedError: TODO 1 output")
        viewport = page.viewport_size

        def in_view():
            box = failing.first.bounding_box()
            return box is not None and box["y"] < viewport["height"] - 40 and box["y"] + min(box["height"], 50) > 0

        wait_for(in_view, 10, "the TODO 1 error to be scrolled into view")
        kept, settled = True, time.monotonic() + 3
        while time.monotonic() < settled:  # and it stays there (nothing scrolls it away again)
            kept = kept and in_view()
            time.sleep(0.1)
        box = failing.first.bounding_box()
        assert kept, f"the TODO 1 error left the screen (now at y={box['y']:.0f}, window height {viewport['height']})"
        later = [c["prompt"] for c in state["cells"] if c["prompt"] not in ("[ ]:", "")]
        assert later, "no cell ran"
    except BaseException:
        page.screenshot(path=str(SHOTS / "student-FAILED.png"))
        raise
    finally:
        page.close()
