"""Load tests: Locust scenarios (locustfile.py) and the runner that starts, drives and reports
on the service (run.py, through run.sh)."""
