#!/usr/bin/env python3
"""Prints Scripts/demo-state.json with its uprobe (fd 6) on the hooked function of a built
bpftime-target: the function's file offset moves whenever the binary is rebuilt.

usage: Scripts/retarget-demo-state.py PATH/TO/bpftime-target [STATE.json] > state.json
"""
import json, os, subprocess, sys

if len(sys.argv) not in (2, 3):
    sys.exit(__doc__.strip())
target = sys.argv[1]
state_path = sys.argv[2] if len(sys.argv) == 3 else os.path.join(os.path.dirname(__file__), "demo-state.json")
hook = subprocess.run([target, "--print-hook"], check=True, capture_output=True, text=True).stdout.strip()
module, offset = hook.rsplit(":", 1)
state = json.load(open(state_path))
state["6"]["attr"].update({"_module_name": module, "offset": int(offset, 16)})
json.dump(state, sys.stdout, indent=4, sort_keys=True)
print()
