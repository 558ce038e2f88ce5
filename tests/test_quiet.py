"""TensorFlow's start-up log stays out of the notebook; every other line on stderr still shows."""

import os
import subprocess
import sys

from mitdeeplearning import _quiet


def test_noise_is_dropped_and_other_lines_are_passed_on(capfd):
    with _quiet.native_stderr_filtered():
        os.write(2, b"I0000 00:00:1.0 1 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.\n")
        os.write(2, b"E0000 00:00:1.0 1 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error\n")
        os.write(2, b"ImportError: libfoo.so: cannot open shared object file\n")
    err = capfd.readouterr().err
    assert "cuda drivers" not in err and "cuInit" not in err
    assert "libfoo.so: cannot open shared object file" in err


def _import_stderr(code, **env):
    environment = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "MDL_SHOW_TF_LOG")}
    environment.update(env)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_importing_the_package_first_silences_tensorflow_start_up():
    plain = _import_stderr("import tensorflow as tf; tf.config.list_physical_devices('GPU')")
    quiet = _import_stderr("import mitdeeplearning as mdl; mdl.util.print_environment()")
    noisy_lines = [line for line in plain.splitlines() if _quiet.NOISE.search(line)]
    assert noisy_lines, f"TensorFlow printed no start-up line to filter (the test proves nothing):\n{plain}"
    assert quiet.strip() == "", f"the setup cell would still show:\n{quiet}"
    # the switch for instructors who want to see it all
    shown = _import_stderr("import mitdeeplearning, tensorflow", MDL_SHOW_TF_LOG="1")
    assert any(_quiet.NOISE.search(line) for line in shown.splitlines())
