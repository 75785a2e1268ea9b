"""A real django-q2 cluster picks up a task from the configured broker and stores its result."""

import os
import signal
import subprocess
import time

import pytest
from django_q.models import Task
from django_q.tasks import async_task

from tests.conftest import ROOT, manage_py, subprocess_env


@pytest.mark.django_db(transaction=True)
def test_worker_runs_a_queued_task():
    task_id = async_task("hub.tasks.ping")
    worker = subprocess.Popen(
        manage_py("qcluster"),
        cwd=ROOT,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and worker.poll() is None:
            task = Task.objects.filter(id=task_id).first()
            if task is not None:
                break
            time.sleep(0.3)
        else:
            pytest.fail(f"no result within 60 s; worker output:\n{_stop(worker)}")
    finally:
        output = _stop(worker)
    assert task.success, output
    assert task.result["pid"] != os.getpid()
    assert worker.returncode is not None


def _stop(worker: subprocess.Popen) -> str:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
    return worker.stdout.read() if worker.stdout else ""
