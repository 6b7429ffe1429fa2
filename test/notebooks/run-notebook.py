#!/usr/bin/env python3
"""Executes a notebook cell by cell on a Jupyter kernel and writes the executed copy.

Why not `jupyter nbconvert --execute`: Deno's kernel can publish a cell's output after it reports
the cell idle, and nbconvert then drops that output in a few runs out of thirty. Here each code cell
may say how many outputs it makes (metadata "sparkify": {"outputs": N}); after the kernel reports
idle the runner keeps reading until that many have arrived, and fails, naming the cell, if they
do not come within the timeout. Any error output fails the run.

Usage: run-notebook.py IN.ipynb OUT.ipynb KERNEL_NAME [TIMEOUT_SECONDS]
"""
import json
import queue
import sys
import time

from jupyter_client.manager import start_new_kernel

OUTPUT_TYPES = {"stream", "display_data", "execute_result", "error"}


def output_of(msg):
    kind = msg["msg_type"]
    content = msg["content"]
    if kind == "stream":
        return {"output_type": "stream", "name": content["name"], "text": content["text"]}
    if kind in ("display_data", "execute_result"):
        out = {"output_type": kind, "data": content["data"], "metadata": content.get("metadata", {})}
        if kind == "execute_result":
            out["execution_count"] = content.get("execution_count")
        return out
    return {"output_type": "error", "ename": content["ename"], "evalue": content["evalue"], "traceback": content["traceback"]}


def run_cell(kc, source, expected, timeout):
    msg_id = kc.execute(source, store_history=True)
    outputs, idle, count = [], False, None
    deadline = time.monotonic() + timeout
    while True:
        # Done when idle and every expected output is in; a late output after idle is still taken.
        if idle and len(outputs) >= expected:
            # A short grace for outputs beyond the expected count, so none is lost either.
            grace_end = time.monotonic() + 0.3
            while time.monotonic() < grace_end:
                try:
                    msg = kc.get_iopub_msg(timeout=0.1)
                except queue.Empty:
                    continue
                if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] in OUTPUT_TYPES:
                    outputs.append(output_of(msg))
            return outputs, count
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise SystemExit(f"cell timed out with {len(outputs)} of {expected} outputs (idle: {idle}):\n{source}")
        try:
            msg = kc.get_iopub_msg(timeout=min(remaining, 1))
        except queue.Empty:
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind = msg["msg_type"]
        if kind == "status" and msg["content"]["execution_state"] == "idle":
            idle = True
        elif kind == "execute_input":
            count = msg["content"].get("execution_count")
        elif kind in OUTPUT_TYPES:
            outputs.append(output_of(msg))


def main():
    src, dst, kernel = sys.argv[1], sys.argv[2], sys.argv[3]
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 120
    with open(src, encoding="utf-8") as f:
        nb = json.load(f)
    km, kc = start_new_kernel(kernel_name=kernel, startup_timeout=120)
    failed = None
    try:
        for index, cell in enumerate(nb["cells"]):
            if cell["cell_type"] != "code":
                continue
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            expected = cell.get("metadata", {}).get("sparkify", {}).get("outputs", 0)
            outputs, count = run_cell(kc, source, expected, timeout)
            cell["outputs"], cell["execution_count"] = outputs, count
            errors = [o for o in outputs if o["output_type"] == "error"]
            if errors:
                failed = f"cell {index} failed: {errors[0]['ename']}: {errors[0]['evalue']}"
                break
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    with open(dst, "w", encoding="utf-8") as f:
        json.dump(nb, f, indent=1)
    if failed:
        raise SystemExit(failed)


if __name__ == "__main__":
    main()
