"""The playground in a real browser: streamed answers, figures, files in and out, hostile text kept inert,
API keys, kept sessions, and "get code" whose output, run as written, gives the page's answer."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from codeloop.settings import Settings
from live import LiveServer, serving

pytestmark = pytest.mark.browser

API_KEY = "browser-test-key"
DOCS = Path(__file__).parents[2] / "docs"
NODE_DIR = Path(__file__).parents[1] / "node"
PRIMES = """\
primes = []
candidate = 2
while len(primes) < 50:
    if all(candidate % p for p in primes):
        primes.append(candidate)
    candidate += 1
print(f"The first 50 primes sum to {sum(primes)}.")
"""


def block(code: str) -> str:
    return f"```python\n{code}\n```"


def ask(page: Page, text: str) -> Locator:
    """Sends text; the model's turn, once its stream has ended."""
    turns = page.locator("article.turn.model")
    before = turns.count()
    page.fill("#prompt", text)
    page.click("#send")
    turn = turns.nth(before)
    expect(turn).to_have_attribute("data-done", "true", timeout=60_000)
    return turn


def test_an_answer_streams_with_its_code_result_and_stats(page: Page) -> None:
    expect(page.locator("#api-key-field")).to_be_hidden()  # this server has no keys
    turn = ask(page, block(PRIMES))
    expect(turn.locator(".code-block code")).to_contain_text("while len(primes) < 50")
    result = turn.locator(".result")
    expect(result).to_have_attribute("data-outcome", "OUTCOME_OK")
    expect(result.locator(".output")).to_have_text("The first 50 primes sum to 5117.\n")
    # per-block CPU and memory, from the result's partMetadata.executionStats
    expect(result.locator(".result-status")).to_contain_text("CPU")
    expect(result.locator(".result-status")).to_contain_text("MiB")
    expect(turn.locator(".text").last).to_contain_text("sum to 5117")
    assert turn.locator(".code-block code .hljs-keyword").count() > 0  # highlighted


def test_lines_show_before_the_block_ends(page: Page) -> None:
    code = 'import time\nprint("first line", flush=True)\ntime.sleep(4)\nprint("second line")'
    page.fill("#prompt", block(code))
    page.click("#send")
    output = page.locator("article.turn.model .result .output")
    expect(output).to_contain_text("first line", timeout=3_000)
    assert page.locator("article.turn.model .result[data-outcome]").count() == 0  # still running
    expect(page.locator("article.turn.model .result")).to_have_attribute(
        "data-outcome", "OUTCOME_OK", timeout=30_000
    )
    expect(output).to_have_text("first line\nsecond line\n")


def test_live_chunks_append_to_their_block_until_the_result_replaces_them(page: Page) -> None:
    """The live-output contract, fed to the page's own renderer: chunks whose codeExecutionResult has no
    outcome append to the block with their id; the complete result replaces them."""
    page.evaluate(
        """async () => {
            const { ModelTurn } = await import("./js/render.js");
            const turn = new ModelTurn(document.getElementById("conversation"), null);
            turn.addCode({ id: "first", language: "PYTHON", code: "print(1)" });
            turn.addCode({ id: "second", language: "PYTHON", code: "print(2)" });
            turn.addResult({ id: "first", output: "one\\n" });
            turn.addResult({ id: "second", output: "<b>two</b>\\n" });
            turn.addResult({ id: "first", output: "uno\\n" });
            window.liveTurn = turn;
        }"""
    )
    results = page.locator(".result")
    expect(results.nth(0).locator(".output")).to_have_text("one\nuno\n")
    expect(results.nth(1).locator(".output")).to_have_text("<b>two</b>\n")
    assert page.locator(".result[data-outcome]").count() == 0
    page.evaluate(
        """() => window.liveTurn.addResult(
            { id: "first", outcome: "OUTCOME_OK", output: "one\\nuno\\ndone\\n" },
            { executionStats: { cpuMs: 12, wallMs: 30, peakMemoryBytes: 50 * 2 ** 20 } })"""
    )
    expect(results.nth(0).locator(".output")).to_have_text("one\nuno\ndone\n")
    status = results.nth(0).locator(".result-status")
    expect(status).to_have_text("ok · CPU 12 ms · wall 30 ms · memory 50.0 MiB")
    expect(results.nth(1)).not_to_have_attribute("data-outcome", "OUTCOME_OK")


def test_stop_ends_a_turn_while_its_code_runs(page: Page) -> None:
    page.fill("#prompt", block("import time\ntime.sleep(12)\nprint('too late')"))
    page.click("#send")
    expect(page.locator(".result-status")).to_have_text("running…")
    page.click("#stop")
    turn = page.locator("article.turn.model")
    expect(turn).to_have_attribute("data-done", "true", timeout=3_000)
    expect(turn.locator(".turn-footer")).to_have_text("Stopped.")
    expect(turn.locator(".result-status")).to_have_text("stopped")
    expect(page.locator("#send")).to_be_visible()
    # the next question is answered as usual, without the stopped turn in its history
    answered = ask(page, block("print('next')"))
    expect(answered.locator(".result .output")).to_have_text("next\n")


def test_a_figure_appears(page: Page) -> None:
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 4, 9, 16])\nplt.title('squares')\nplt.show()"
    turn = ask(page, block(code))
    figure = turn.locator("img.figure")
    expect(figure).to_be_visible()
    assert figure.evaluate("img => img.complete && img.naturalWidth") > 100


def test_a_dropped_csv_is_read_by_the_code(page: Page) -> None:
    csv = "month,units\njan,12\nfeb,30\nmar,7\n"
    page.evaluate(
        """csv => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([csv], "sales.csv", { type: "text/csv" }));
            document.getElementById("chat").dispatchEvent(
                new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
        }""",
        csv,
    )
    expect(page.locator("#attachments li")).to_contain_text("sales.csv")
    code = "import pandas as pd\nsales = pd.read_csv('sales.csv')\nprint(sales.month[sales.units.idxmax()])"
    turn = ask(page, block(code))
    expect(turn.locator(".result .output")).to_have_text("feb\n")
    expect(page.locator("#attachments li")).to_have_count(0)


def test_a_large_attachment_goes_through_the_files_api(page: Page, tmp_path: Path) -> None:
    rows = "".join(f"{n},{n * n}\n" for n in range(150_000))  # over the 1 MiB inline limit
    path = tmp_path / "squares.csv"
    path.write_text("n,square\n" + rows)
    page.set_input_files("#attach", str(path))
    uploads: list[str] = []
    page.on("request", lambda request: uploads.append(request.url) if "/upload/" in request.url else None)
    code = "import pandas as pd\nprint(len(pd.read_csv('squares.csv')))"
    turn = ask(page, block(code))
    expect(turn.locator(".result .output")).to_have_text("150000\n")
    assert len(uploads) == 1


def test_a_generated_file_downloads(page: Page, tmp_path: Path) -> None:
    code = "with open('report.txt', 'w') as out:\n    out.write('rows: 3\\n')"
    turn = ask(page, block(code))
    link = turn.locator(".generated-file .download")
    expect(link).to_contain_text("report.txt")
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "report.txt"
    saved = tmp_path / "report.txt"
    download.value.save_as(saved)
    assert saved.read_text() == "rows: 3\n"


HOSTILE = '<img src=x onerror="window.__pwned=1"> <script>window.__pwned=1</script>'


def test_a_hostile_reply_and_output_stay_inert(page: Page) -> None:
    # The scripted model repeats a message without code: the reply holds the markup as model text.
    echoed = ask(page, HOSTILE)
    expect(echoed.locator(".text")).to_contain_text(HOSTILE)
    code = f"print({HOSTILE!r})\nprint('[x](javascript:window.__pwned=1)')"
    turn = ask(page, block(code))
    expect(turn.locator(".result .output")).to_contain_text(HOSTILE)
    expect(turn.locator(".text").last).to_contain_text("<script>window.__pwned=1</script>")
    page.wait_for_timeout(300)  # an onerror would have fired by now
    assert page.evaluate("window.__pwned") is None
    conversation = page.locator("#conversation")
    assert conversation.locator("img:not(.figure), script, [onerror]").count() == 0
    assert conversation.locator("a[href^='javascript']").count() == 0


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("data")
    # Generated files over 64 KiB come back as Files API links, fetched with the key.
    settings = Settings(model="scripted", api_keys=API_KEY, inline_file_bytes=1 << 16, data_dir=data_dir)
    with serving(settings) as live:
        yield live


def test_an_api_key_is_required_and_used(browser: Browser, keyed_server: LiveServer) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(keyed_server.url)
    page.wait_for_selector("body[data-ready=true]")
    key_field = page.locator("#api-key")
    expect(key_field).to_be_visible()
    notice = page.locator("#notice")
    expect(notice).to_contain_text("401 UNAUTHENTICATED")  # models.list without a key, as Google says it
    expect(notice).to_contain_text("Request is missing required authentication credential")
    key_field.fill("wrong-key")
    key_field.dispatch_event("change")
    expect(notice).to_contain_text("403 PERMISSION_DENIED")
    sent: list[str | None] = []
    page.on("request", lambda request: sent.append(request.headers.get("x-goog-api-key")))
    key_field.fill(API_KEY)
    key_field.dispatch_event("change")
    expect(page.locator("#model")).to_have_value("scripted")
    expect(notice).to_be_hidden()
    turn = ask(page, block("print(6 * 7)"))
    expect(turn.locator(".result .output")).to_have_text("42\n")
    assert API_KEY in sent
    # kept in the tab, not across the browser
    assert page.evaluate("sessionStorage.getItem('codeloop.apiKey')") == API_KEY
    assert page.evaluate("localStorage.length") == 0
    context.close()


def test_a_large_generated_file_downloads_from_the_files_api(
    browser: Browser, keyed_server: LiveServer, tmp_path: Path
) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(keyed_server.url)
    page.fill("#api-key", API_KEY)
    page.dispatch_event("#api-key", "change")
    expect(page.locator("#model")).to_have_value("scripted")
    code = "with open('big.csv', 'w') as out:\n    out.write('n\\n' + '\\n'.join(map(str, range(50_000))))"
    turn = ask(page, block(code))
    button = turn.locator(".generated-file button.download")
    expect(button).to_contain_text("big.csv")
    with page.expect_download() as download:
        button.click()
    saved = tmp_path / "big.csv"
    download.value.save_as(saved)
    assert saved.read_text() == "n\n" + "\n".join(map(str, range(50_000)))
    context.close()


def test_a_kept_session_keeps_variables(page: Page) -> None:
    page.check("#keep-session")
    ask(page, block("answer = 41"))
    expect(page.locator("#session-status")).to_contain_text("Kept session:")
    turn = ask(page, block("print(answer + 1)"))
    expect(turn.locator(".result .output")).to_have_text("42\n")


def answer_of(response: dict) -> str:
    parts = response["candidates"][0]["content"]["parts"]
    return "".join(part.get("text", "") for part in parts)


def generated(page: Page, language: str) -> str:
    page.click("#get-code")
    page.click(f"#code-dialog .tabs button[data-language={language}]")
    code = page.locator("#code-listing").get_attribute("data-code")
    page.click("#close-code")
    assert code
    return code


def test_get_code_runs_as_written_with_the_same_answer(
    page: Page, server: LiveServer, tmp_path: Path
) -> None:
    page.fill("#temperature", "0")
    page.fill("#system-instruction", "Answer briefly.")
    turn = ask(page, block(PRIMES))
    expect(turn.locator(".text").last).to_contain_text("sum to 5117")
    page_answer = turn.locator(".text").last.inner_text()

    curl = generated(page, "curl")
    assert curl.startswith(f"curl -sS '{server.url}/v1beta/models/scripted:generateContent'")
    ran = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, timeout=60, check=True)
    curl_answer = answer_of(json.loads(ran.stdout))
    assert "The first 50 primes sum to 5117." in curl_answer
    assert " ".join(page_answer.split()) in " ".join(curl_answer.split())

    python = generated(page, "python")
    script = tmp_path / "ask.py"
    script.write_text(python)
    env = {**os.environ, "GEMINI_API_KEY": "unused"}
    ran = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, env=env)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == curl_answer.strip()


@pytest.mark.node
def test_get_code_for_node_runs_as_written_with_the_same_answer(page: Page) -> None:
    node = shutil.which("node")
    if node is None or not (NODE_DIR / "node_modules" / "@google" / "genai").is_dir():
        pytest.fail("Node.js and tests/node/node_modules are needed: run `make test`, which installs them")
    turn = ask(page, block(PRIMES))
    page_answer = turn.locator(".text").last.inner_text()
    # Beside tests/node's node_modules, where `import "@google/genai"` resolves; removed afterwards.
    script = NODE_DIR / f"playground-{secrets.token_hex(4)}.mjs"
    script.write_text(generated(page, "node"))
    try:
        ran = subprocess.run([node, script.name], cwd=NODE_DIR, capture_output=True, text=True, timeout=60)
    finally:
        script.unlink()
    assert ran.returncode == 0, ran.stderr
    assert "The first 50 primes sum to 5117." in ran.stdout
    assert " ".join(page_answer.split()) in " ".join(ran.stdout.split())


def test_the_screenshot_of_the_seed_question(page: Page) -> None:
    question = "What is the sum of the first 50 prime numbers? Generate and run code for the calculation."
    turn = ask(page, f"{question}\n\n{block(PRIMES)}")
    expect(turn.locator(".result")).to_have_attribute("data-outcome", "OUTCOME_OK")
    page.locator("#model").focus()
    page.screenshot(path=str(DOCS / "playground.png"))
    assert (DOCS / "playground.png").read_bytes().startswith(b"\x89PNG")
