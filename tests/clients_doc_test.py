"""Every `python` and `js` block of docs/clients.md runs against a fresh real hub and
prints exactly the `text` block that follows it: the page's examples cannot rot.

Needs CLIENTS_DOC, PULSE_HUB_BINARY, NODE_CLIENT_DIR (the real client/node folder) and
the Python client with its stubs on PYTHONPATH; run through clients_doc_test.sh.
"""

import os
import re
import subprocess
import sys
import tempfile
import unittest

from pulsesync.testing import HubProcess

FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
RUNNERS = {"python": [sys.executable], "js": ["node"]}
DEADLINE_S = 30


def examples(markdown):
    """(language, code, expected output) of each runnable block."""
    blocks = FENCE.findall(markdown)
    found = []
    for i, (language, code) in enumerate(blocks):
        if language not in RUNNERS:
            continue
        follower = blocks[i + 1] if i + 1 < len(blocks) else ("", "")
        if follower[0] != "text":
            raise AssertionError(f"a {language} block is not followed by its output:\n{code}")
        found.append((language, code, follower[1]))
    return found


class ClientsDocTest(unittest.TestCase):
    def test_every_example_prints_what_the_page_says(self):
        with open(os.environ["CLIENTS_DOC"]) as f:
            blocks = examples(f.read())
        self.assertEqual([language for language, _, _ in blocks], ["python", "python", "js"])
        work = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
        # `require('@pulsesync/client')` as after `npm install .../client/node`: a link.
        scope = os.path.join(work, "node_modules", "@pulsesync")
        os.makedirs(scope)
        os.symlink(os.environ["NODE_CLIENT_DIR"], os.path.join(scope, "client"))
        for n, (language, code, expected) in enumerate(blocks):
            with self.subTest(block=n, language=language):
                script = os.path.join(work, f"example{n}.{'py' if language == 'python' else 'js'}")
                with open(script, "w") as f:
                    f.write(code)
                with HubProcess(os.environ["PULSE_HUB_BINARY"], os.path.join(work, f"hub{n}")) as hub:
                    run = subprocess.run(
                        RUNNERS[language] + [script],
                        env={**os.environ, "PULSE_HUB": hub.address},
                        capture_output=True,
                        text=True,
                        timeout=DEADLINE_S,
                    )
                self.assertEqual(run.returncode, 0, run.stderr)
                self.assertEqual(run.stdout, expected)


if __name__ == "__main__":
    unittest.main(verbosity=2)
