"""Times the community Python SDK (darktrace-sdk) doing the benchmark's calls against the simulator.

usage: python python_sdk.py URL PUBLIC_TOKEN PBID ITERATIONS   (private token in DARKTRACE_PRIVATE_TOKEN)
prints one JSON object: {"get-model-breach": [seconds...], "list-model-breaches": [seconds...]}
"""
import json
import os
import sys
import time

from darktrace import DarktraceClient

url, public, pbid, iterations = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
client = DarktraceClient(url, public, os.environ["DARKTRACE_PRIVATE_TOKEN"], verify_ssl=False)
now_ms = int(time.time() * 1000)
calls = {
    "get-model-breach": lambda: client.breaches.get(pbid=pbid, deviceattop=True),
    "list-model-breaches": lambda: client.breaches.get(
        starttime=now_ms - 86_400_000, endtime=now_ms, creationtime=True, includeacknowledged=False,
        minimal=False, deviceattop=True),
}
out = {}
for name, call in calls.items():
    call()  # warm the connection
    durations = []
    for _ in range(iterations):
        start = time.perf_counter()
        call()
        durations.append(time.perf_counter() - start)
    out[name] = durations
print(json.dumps(out))
