"""Starts the real, built EvalPlatform app for the integration tests: a throw-away SQLite data
directory, a free loopback port, a team and an API key made with the admin commands.

The app is the Release build ``scripts/test.sh`` makes before the SDK tests
(``EvalPlatform.Web/bin/Release/net10.0/EvalPlatform.Web.dll``; EVALPLATFORM_APP_DLL overrides).
A missing build is a failure, never a skip: CI builds it first.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from fake_platform import free_port

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
DEFAULT_DLL = os.path.join(REPO_ROOT, "EvalPlatform.Web", "bin", "Release", "net10.0", "EvalPlatform.Web.dll")
PASSWORD = "correct horse battery staple"


class PlatformApp(object):
    def __init__(self):
        self.dll = os.environ.get("EVALPLATFORM_APP_DLL") or DEFAULT_DLL
        if not os.path.isfile(self.dll):
            raise AssertionError(
                "The EvalPlatform app is not built: %s is missing. Build it first with "
                "`dotnet build EvalPlatform.sln -c Release` (scripts/test.sh does), or set EVALPLATFORM_APP_DLL." % self.dll)
        self.data_dir = tempfile.mkdtemp(prefix="evalplatform-sdk-py-")
        self.url = "http://127.0.0.1:%d" % free_port()
        self.env = dict(os.environ)
        self.env.update({
            "ConnectionStrings__Postgres": "",
            "ConnectionStrings__Redis": "",
            "ConnectionStrings__Sqlite": "Data Source=%s" % os.path.join(self.data_dir, "evalplatform.db"),
            "ASPNETCORE_URLS": self.url,
            "ASPNETCORE_ENVIRONMENT": "Production",
            "DOTNET_NOLOGO": "1",
        })
        self._log = open(os.path.join(self.data_dir, "app.log"), "w+b")
        self.process = subprocess.Popen(["dotnet", self.dll], cwd=self.data_dir, env=self.env,
                                        stdout=self._log, stderr=subprocess.STDOUT)
        try:
            self._wait_ready(120.0)
            self._admin("create-team", "--name", "SDK", "--owner", "sdk@example.com", "--password-stdin", stdin=PASSWORD)
            self.api_key = self._admin("create-api-key", "--team", "SDK", "--name", "sdk",
                                       "--scopes", "ingest,read,review").strip()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout):
        """Polls /health/ready (database answers, migrations applied) instead of sleeping a fixed time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError("The app exited with %s:\n%s" % (self.process.returncode, self.output()))
            try:
                with urllib.request.urlopen(self.url + "/health/ready", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (OSError, urllib.error.HTTPError):
                pass  # not listening yet, or not ready
            time.sleep(0.1)
        raise AssertionError("The app did not become ready in %ds:\n%s" % (timeout, self.output()))

    def _admin(self, *args, **kwargs):
        result = subprocess.run(["dotnet", self.dll, "admin"] + list(args), cwd=self.data_dir, env=self.env,
                                input=(kwargs.get("stdin") or "") + "\n", capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise AssertionError("admin %s failed (%d): %s" % (args[0], result.returncode, result.stderr))
        return result.stdout

    def output(self):
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-4000:]

    def request(self, method, path, body=None):
        """A raw API call with the test key: (status, JSON body)."""
        data = json.dumps(body).encode("utf-8") if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Authorization": "Bearer " + self.api_key, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._log.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)
