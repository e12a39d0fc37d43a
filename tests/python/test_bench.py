"""The benchmark tool: the CLI end to end on a tiny suite, the pure functions of the method
(floors, speed-ups, timing choices), n/a handling, a missing PyTorch, and the NumPy references
and composed-path layouts the suites rely on. Fast and CPU-only: nothing here asserts a speed.
"""
import csv
import importlib.util
import json
import math
import os
import subprocess
import sys
import types

import numpy as np
import pytest

import lightning_core as lc
from lightning_core.__main__ import main as lc_main
from lightning_core.bench import cases, ceilings, report, runner, timing
from lightning_core.bench import torch_ref as ref

COLUMNS = ["suite", "case", "device", "precision", "residency", "lightning_core_ms", "integrated_api_ms",
           "torch_ms", "numpy_ms", "ours_best_vs_torch", "floor_ms", "pct_of_floor", "note"]
NUMERIC = COLUMNS[5:12]


def _bench(out, *extra):
    return lc_main(["bench", "--suite", "smoke", "--quick", "--device", "cpu", "--no-progress",
                    "--out", str(out), *extra])


def _read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def smoke_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    assert _bench(out) == 0
    return out


# ---- the CLI end to end -------------------------------------------------------------------------
def test_smoke_run_writes_well_formed_csv(smoke_dir):
    with open(smoke_dir / "smoke.csv", newline="") as f:
        assert next(csv.reader(f)) == COLUMNS
    rows = _read_csv(smoke_dir / "smoke.csv")
    assert [r["case"] for r in rows] == [c.name for c in cases.smoke_cases()]
    for r in rows:
        assert (r["suite"], r["device"], r["precision"], r["residency"]) == ("smoke", "cpu", "fp32", "resident")
        for k in NUMERIC:
            assert r[k] == "" or math.isfinite(float(r[k])), (k, r[k])
        assert r["numpy_ms"] and float(r["numpy_ms"]) > 0  # NumPy is always there
        assert r["floor_ms"] and float(r["floor_ms"]) > 0  # ceilings measured in the run
        # A Lightning Core time or the reason there is none.
        assert r["lightning_core_ms"] or "n/a" in r["note"] or "error" in r["note"]


def test_smoke_run_writes_json_with_machine_and_ceilings(smoke_dir):
    doc = json.loads((smoke_dir / "smoke.json").read_text())
    assert doc["suite"] == "smoke" and doc["columns"] == COLUMNS
    m = doc["machine"]
    assert m["device"] == "cpu" and m["numpy"] == np.__version__ and m["lightning_core"] == lc.__version__
    assert m["cpu"] and "python" in m
    c = doc["ceilings"]
    assert c["copy_GBps"] > 0 and c["gemm_TFLOPs"]["fp32"] > 0
    assert len(doc["rows"]) == 3
    for row in doc["rows"]:
        assert set(COLUMNS) <= set(row)
        if row["lightning_core_ms"] is not None:
            assert row["details"]["lightning_core"]["reps"] >= timing.QUICK.min_reps


def test_smoke_run_writes_png_and_markdown(smoke_dir):
    try:
        import matplotlib
    except ImportError:
        matplotlib = None
    if matplotlib is not None:
        assert (smoke_dir / "smoke.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert not (smoke_dir / "smoke.png").exists()
    md = (smoke_dir / "smoke.md").read_text()
    assert "| Case | Precision | Residency | Lightning Core ms" in md
    summary = (smoke_dir / "summary.md").read_text()
    assert summary.startswith("# Lightning Core benchmark summary")
    for c in cases.smoke_cases():
        assert c.name in md and c.name in summary
    # Every table line has the header's number of cells.
    lines = [ln for ln in md.splitlines() if ln.startswith("| ")]
    assert len({ln.count(" | ") for ln in lines}) == 1


def test_cli_prints_the_table_and_filters_cases(tmp_path, capsys):
    assert _bench(tmp_path, "--cases", "gemm") == 0
    out = capsys.readouterr().out
    assert "lc ms" in out and "gemm 64^3" in out and "attention" not in out
    assert len(_read_csv(tmp_path / "smoke.csv")) == 1


def test_list_and_empty_selection(tmp_path, capsys):
    assert _bench(tmp_path, "--list") == 0
    assert "3 rows" in capsys.readouterr().out
    assert _bench(tmp_path, "--cases", "no-such-case") == 2


def test_module_entry_point(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    r = subprocess.run([sys.executable, "-m", "lightning_core", "bench", "--suite", "smoke", "--quick",
                        "--cases", "add", "--no-progress", "--out", str(tmp_path)],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "smoke.csv").exists() and "add n=4096" in r.stdout


def test_tune_is_not_implemented_yet(capsys):
    assert lc_main(["tune"]) == 2
    assert "not implemented yet" in capsys.readouterr().err
    assert lc_main([]) == 2 and lc_main(["frobnicate"]) == 2
    assert lc_main(["--help"]) == 0


def test_bad_precision_is_rejected(tmp_path):
    with pytest.raises(SystemExit):
        _bench(tmp_path, "--precision", "fp8")


# ---- a missing PyTorch ----------------------------------------------------------------------------
def test_runs_without_pytorch(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    torch, why = ref.load_torch()
    assert torch is None and ("ImportError" in why or "ModuleNotFoundError" in why)
    assert _bench(tmp_path) == 0
    out = capsys.readouterr().out
    assert "PyTorch is not importable" in out and "torch_ms and ours_best_vs_torch" in out
    rows = _read_csv(tmp_path / "smoke.csv")
    assert all(r["torch_ms"] == "" and r["ours_best_vs_torch"] == "" for r in rows)
    assert "PyTorch is not importable" in (tmp_path / "summary.md").read_text()
    assert json.loads((tmp_path / "smoke.json").read_text())["machine"]["torch"] is None


def test_runs_without_matplotlib(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert _bench(tmp_path, "--cases", "add") == 0
    assert "matplotlib is not importable" in capsys.readouterr().out
    assert not (tmp_path / "smoke.png").exists() and (tmp_path / "smoke.csv").exists()


# ---- floors, speed-ups, timing choices -------------------------------------------------------------
def test_floor_is_the_larger_of_compute_and_memory_time():
    assert ceilings.floor_ms(2e9, 1e6, 1.0, 100.0) == pytest.approx(2.0)      # 2 GFLOP at 1 TFLOP/s
    assert ceilings.floor_ms(1e6, 1e9, 100.0, 1000.0) == pytest.approx(1.0)   # 1 GB at 1000 GB/s
    assert ceilings.floor_ms(2e9, 1e9, None, 1000.0) == pytest.approx(1.0)    # a missing ceiling drops its term
    assert ceilings.floor_ms(2e9, 1e9, None, None) is None
    assert ceilings.bytes_at("bf16", 400) == 200 and ceilings.bytes_at("tf32", 400) == 400


def test_round_trip_floor_adds_transfers_and_latency():
    f = ceilings.round_trip_floor_ms(1.0, in_bytes=2e9, out_bytes=1e9, h2d_gbps=10.0, d2h_gbps=10.0,
                                     latency_ms=0.01)
    assert f == pytest.approx(1.0 + 200.0 + 100.0 + 0.01)
    assert ceilings.round_trip_floor_ms(1.0, 1, 1, None, 10.0, 0.0) is None


def test_ceilings_floor_uses_precision_peak_and_cache_tier():
    c = ceilings.Ceilings("cuda", copy_gbps=1000.0, gemm_tflops={"fp32": 50.0, "bf16": 800.0},
                          copy_tiers=[(1 << 20, 4000.0)])
    assert c.floor("bf16", 8e12, 0) == pytest.approx(10.0)
    assert c.floor("tf32", 5e12, 0) == pytest.approx(100.0)   # no tf32 ceiling: fp32's
    assert c.floor("fp32", 0, 4e9) == pytest.approx(4.0)       # large working set: memory
    assert c.floor("fp32", 0, 4e5) == pytest.approx(4e5 / 4000e9 * 1e3)  # fits the 1 MiB tier
    assert c.floor("bf16", 0, 4e9) == pytest.approx(2.0)       # half the bytes
    assert ceilings.bandwidth_for(10, [], 5.0) == 5.0


def test_pct_of_floor_and_speedup():
    assert ceilings.pct_of_floor(1.0, 4.0) == pytest.approx(25.0)
    assert ceilings.pct_of_floor(None, 4.0) is None and ceilings.pct_of_floor(1.0, None) is None
    assert runner.speedup(2.0, 1.0, 0.5) == pytest.approx(4.0)   # best of ours
    assert runner.speedup(2.0, None, 4.0) == pytest.approx(0.5)  # < 1: PyTorch faster
    assert runner.speedup(None, 1.0) is None and runner.speedup(1.0, None, None) is None
    row = runner.Row("s", "c", "cpu", "fp32", "resident", lightning_core_ms=3.0, integrated_api_ms=2.0)
    assert row.ours_best_ms() == 2.0


def test_timing_choices():
    assert timing.median([3.0, 1.0, 2.0]) == 2.0
    assert timing.choose_batch(0.01, 2.0, 200) == 200 and timing.choose_batch(0.5, 2.0, 200) == 4
    assert timing.choose_batch(50.0, 2.0, 200) == 1
    assert timing.choose_reps(10.0, 1.0, 10, 200) == 100
    assert timing.choose_reps(1000.0, 1.0, 10, 200) == 10 and timing.choose_reps(0.001, 1.0, 10, 200) == 200
    assert timing.rotation_count(100 << 20, 50 << 20, 8) == 1     # bigger than the cache: one set
    assert timing.rotation_count(20 << 20, 50 << 20, 8) == 5      # enough sets to overflow it twice
    assert timing.rotation_count(1 << 10, 50 << 20, 8) == 8
    assert timing.rotation_count(1 << 10, None, 8) == 1


class _FakeClock:
    name = "fake"

    def __init__(self, per_call):
        self.per_call, self.calls = per_call, 0

    def start(self):
        self.mark = self.calls

    def stop(self):
        return (self.calls - self.mark) * self.per_call


def test_measure_batches_rotates_and_marks_the_last_call():
    clock = _FakeClock(0.1)
    seen = []

    def call(i, last):
        clock.calls += 1
        seen.append((i % 3, last))
    t = timing.measure(call, clock, timing.Settings(2, 3, 5, 0.003, 1.0, 50, 4), sets=3)
    assert t.batch == 10 and t.reps == 3 and t.median_ms == pytest.approx(0.1)
    timed = seen[2:]
    assert len(timed) == 30 and sum(last for _, last in timed) == 3
    assert {i for i, _ in timed} == {0, 1, 2}
    one = timing.measure(call, clock, timing.Settings(1, 3, 5, 0.01, 1.0, 50, 4), batching=False)
    assert one.batch == 1
    slow = _FakeClock(5000.0)  # 5 s a call: timed once, no repetitions

    def slow_call(i, last):
        slow.calls += 1
    t = timing.measure(slow_call, slow, timing.Settings(5, 10, 50, 0.5, 2.0, 50, 4))
    assert t.reps == 1 and slow.calls == 1 and "once" in t.method


# ---- rows: n/a, errors, checks, skips -----------------------------------------------------------------
def _env():
    c = ceilings.Ceilings("cpu", copy_gbps=10.0, gemm_tflops={"fp32": 0.1}, cache_bytes=1 << 20)
    return runner.Env(lc=lc, device="cpu", settings=timing.Settings(1, 3, 3, 0.01, 0.1, 5, 2),
                      ceilings=c, host_ceilings=c)


def _case(name, impl, flops=1e3, numpy=lambda x: x["a"] * 2):
    return cases.Case("t", name, "test", {"a": cases.P(4, 4)}, ((4, 4),), flops, lc=impl, numpy=numpy)


def _raise(exc):
    def f(c, x):
        raise exc
    return f


def test_missing_or_unsupported_ops_are_na_and_other_failures_errors():
    cs = [_case("ni", _raise(NotImplementedError("[op] not yet"))),
          _case("attr", lambda c, x: c.L.no_such_op(x["a"])),
          _case("unsupported", _raise(lc.NotSupportedError("[op] no bf16 here"))),
          _case("value", _raise(ValueError("[op] bad shape"))),
          _case("ok", lambda c, x: x["a"] * 2)]
    rows = {r.case: r for r in runner.run(cs, _env())}
    assert rows["ni"].note.startswith("lc n/a: [op] not yet") and rows["ni"].lightning_core_ms is None
    assert "n/a" in rows["attr"].note and "no_such_op" in rows["attr"].note
    assert "n/a: [op] no bf16 here" in rows["unsupported"].note
    assert "error: ValueError: [op] bad shape" in rows["value"].note
    assert all(r.numpy_ms > 0 for r in rows.values())
    assert rows["ok"].lightning_core_ms > 0 and rows["ok"].note == ""
    assert rows["ok"].details["rel_err"]["lightning_core"] == 0.0


def test_a_wrong_result_is_flagged():
    (row,) = runner.run([_case("wrong", lambda c, x: x["a"] * 3)], _env())
    assert "CHECK lightning_core differs from numpy" in row.note


def test_slow_cpu_rows_are_skipped_with_the_reason():
    (row,) = runner.run([_case("huge", _raise(AssertionError("must not run")), flops=1e16)], _env())
    assert row.note.startswith("skipped on cpu: about") and row.lightning_core_ms is None


def test_plan_keeps_gpu_only_precisions_off_the_cpu():
    env = _env()
    table = cases.kernel_cases()
    triples = runner.plan(table, env, None)
    assert triples and all(p == "fp32" and r == cases.RESIDENT for _, p, r in triples)
    assert not any(c.cuda_only for c, _, _ in triples)
    env.device = "cuda"
    precs = {p for _, p, _ in runner.plan(table, env, None)}
    assert precs == {"fp32", "tf32", "bf16"}
    assert {p for _, p, _ in runner.plan(table, env, ["bf16"])} == {"bf16"}


# ---- case tables -------------------------------------------------------------------------------
BENCHMARKS_MD_ROWS = [
    ("kernel", "attention seq=8 dim=16"), ("kernel", "attention seq=192 dim=48"),
    ("kernel", "attention seq=1024 dim=64"), ("kernel", "attention seq=4096 dim=64"),
    ("kernel", "conv 1x3x16x16 -> 16, k=3"), ("kernel", "gemm 1024^3"), ("kernel", "gemm 4096x1024x4096"),
    ("ml", "linear 4096x1024 -> 1024"), ("pipeline", "FFN batch=1024 d=1024"),
    ("pipeline", "LN->proj batch=2048 d=1024"), ("pipeline", "conv->relu->attn seq=192 dim=48"),
    ("kernel", "attention B4 H16 S4096 D128 fwd"), ("kernel", "attention B4 H16 S4096 D128 causal fwd"),
    ("kernel", "attention B4 H16 S4096 D128 fwd+bwd")]


def test_case_tables_cover_benchmarks_md_and_are_consistent():
    every = {s: cases.BUILDERS[s]() for s in cases.BUILDERS}
    for suite, name in BENCHMARKS_MD_ROWS:
        match = [c for c in every[suite] if c.name == name]
        assert len(match) == 1 and match[0].table, name
    gemm = next(c for c in every["kernel"] if c.name == "gemm 1024^3")
    assert set(gemm.precisions) == {"fp32", "tf32", "bf16"} and gemm.flops == 2 * 1024 ** 3
    for suite, cs in every.items():
        names = [c.name for c in cs]
        assert len(names) == len(set(names)), suite
        assert any(c.quick for c in cs), suite
        for c in cs:
            assert c.suite == suite and c.flops > 0 and c.in_bytes > 0 and c.out_bytes > 0
            assert set(c.precisions) <= set(cases.ALL_PREC) and c.lc is not None
    sweep = [c for c in every["kernel"] if c.name.startswith("attention B1 H8")]
    assert {c.name.split()[3] for c in sweep} >= {"S8", "S16384"} and len(sweep) == 72


def test_inputs_are_random_and_never_zero(rng):
    c = next(c for c in cases.ml_cases() if c.name.startswith("LSTM T=32"))
    x = c.make_inputs(rng)
    assert set(x) == set(c.inputs)
    for v in x.values():  # random normal float32: an exact 0 is rare, a zero-filled input never
        assert v.dtype == np.float32 and np.mean(v == 0) < 1e-4 and np.std(v) > 0


# ---- the NumPy references and the composed paths --------------------------------------------
def test_numpy_attention_matches_a_float64_loop(rng):
    q, k, v = (rng.standard_normal((n, 8)).astype(np.float32) for n in (3, 5, 5))
    for causal in (False, True):
        out = ref.attention(q, k, v, causal)
        exp = np.zeros((3, 8))
        for i in range(3):
            keys = range(5) if not causal else range(i + 2 + 1)  # j <= i + (Sk - Sq)
            s = np.array([q[i].astype(np.float64) @ k[j] / math.sqrt(8) for j in keys])
            p = np.exp(s - s.max())
            exp[i] = (p / p.sum()) @ v[list(keys)]
        np.testing.assert_allclose(out, exp, rtol=1e-5, atol=1e-6)


def test_numpy_conv_gelu_pool_match_direct_definitions(rng):
    x = rng.standard_normal((2, 3, 7, 6)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    y = ref.conv2d(x, w, b, (2, 1), (1, 1))
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    exp = np.zeros((2, 4, 4, 6))
    for n, o, i, j in np.ndindex(*exp.shape):
        exp[n, o, i, j] = np.sum(xp[n, :, 2 * i:2 * i + 3, j:j + 3] * w[o]) + b[o]
    np.testing.assert_allclose(y, exp, rtol=1e-4, atol=1e-4)
    t = np.linspace(-6, 6, 101).astype(np.float32)
    np.testing.assert_allclose(ref.gelu(t), [0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in t], atol=2e-6)
    assert ref.max_pool2d(np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)).ravel().tolist() == [5, 7, 13, 15]


def test_numpy_recurrent_and_backward_references(rng):
    t, b, i, h = 3, 2, 5, 4
    x = rng.standard_normal((t, b, i)).astype(np.float32)
    h0, c0 = (rng.standard_normal((b, h)).astype(np.float32) for _ in range(2))
    ws = [rng.standard_normal(s).astype(np.float32) * 0.5 for s in ((4 * h, i), (4 * h, h), (4 * h,), (4 * h,))]
    out, hn, cn = ref.lstm(x, h0, c0, *ws)
    hh, cc = h0, c0
    for s in range(t):
        hh, cc = ref.lstm_cell(x[s], hh, cc, *ws)
        np.testing.assert_allclose(out[s], hh, rtol=1e-5)
    np.testing.assert_allclose(cn, cc, rtol=1e-5)
    # attention_backward against central differences of sum(attention * dout), float64.
    q, k, v, do = (rng.standard_normal((1, 4, 3)) for _ in range(4))
    dq, dk, dv = ref.attention_backward(q, k, v, do, causal=True)
    f = lambda q_, k_, v_: np.sum(ref.attention(q_, k_, v_, True) * do)  # noqa: E731
    eps = 1e-6
    for grad, idx in ((dq, 0), (dk, 1), (dv, 2)):
        num = np.zeros_like(grad)
        for j in np.ndindex(*grad.shape):
            args = [q.copy(), k.copy(), v.copy()]
            args[idx][j] += eps
            up = f(*args)
            args[idx][j] -= 2 * eps
            num[j] = (up - f(*args)) / (2 * eps)
        np.testing.assert_allclose(grad, num, rtol=1e-4, atol=1e-6)


class _NumpyL:
    """Lightning Core's op names over NumPy, to check the composed paths' layouts and math."""
    layer_norm = staticmethod(lambda x, w, b, eps=1e-5, policy=None: ref.layer_norm(x, w, b, eps))
    matmul = staticmethod(lambda a, b, policy=None: np.matmul(a, b))
    attention = staticmethod(lambda q, k, v, causal=False, policy=None: ref.attention(q, k, v, causal))
    add = staticmethod(lambda a, b, policy=None: a + b)
    transpose = staticmethod(lambda x, policy=None: np.ascontiguousarray(np.swapaxes(x, -1, -2)))
    relu = staticmethod(lambda x, policy=None: ref.relu(x))
    gelu = staticmethod(lambda x, policy=None: ref.gelu(x))
    max_pool2d = staticmethod(lambda x, kernel_h=2, kernel_w=2, policy=None: ref.max_pool2d(x))

    @staticmethod
    def linear(x, w, b=None, activation="none", policy=None):
        y = ref.linear(x, w, b)
        return {"none": y, "relu": ref.relu(y), "gelu": ref.gelu(y)}[activation]

    @staticmethod
    def linear_into(x, w, b, out, activation="none", policy=None):
        out[...] = _NumpyL.linear(x, w, b, activation)

    @staticmethod
    def conv2d_nchw(x, w, b, stride_h=1, stride_w=1, pad_h=0, pad_w=0, policy=None):
        return ref.conv2d(x, w, b, (stride_h, stride_w), (pad_h, pad_w))

    @staticmethod
    def conv_relu_nchw(x, w, b, stride_h=1, stride_w=1, pad_h=0, pad_w=0, policy=None):
        return ref.relu(ref.conv2d(x, w, b, (stride_h, stride_w), (pad_h, pad_w)))

    @staticmethod
    def attention2d(q, k, v, causal=False, policy=None):
        return ref.attention(q, k, v, causal)

    @staticmethod
    def conv_attention_nchw(x, w, b, stride_h=1, stride_w=1, pad_h=0, pad_w=0, policy=None):
        return ref.conv_attention(x, w, b, pad_h)

    @staticmethod
    def conv_attention_torchstrong_nchw(x, w, b, seq_len, head_dim, stride_h=1, stride_w=1, pad_h=0, pad_w=0,
                                        policy=None):
        t = ref.torchstrong_tokens(ref.relu(ref.conv2d(x, w, b, pad=(pad_h, pad_w))), seq_len, head_dim)
        return ref.attention(t, t, t)


@pytest.mark.parametrize("name", ["transformer block B=1 S=128 D=256 H=4 causal",
                                  "VLM block image=64 patch=16 D=128 H=4 text=16", "small CNN batch=8 3x32x32",
                                  "conv->relu->attn seq=192 dim=48", "conv->attn torchstrong seq=96 dim=48",
                                  "FFN batch=64 d=1024", "MLP 784-512-256-10 batch=256 relu"])
def test_composed_paths_compute_what_the_references_do(name, rng):
    case = next(c for s in ("pipeline", "ml", "dl") for c in cases.BUILDERS[s]() if c.name == name)
    x = case.make_inputs(rng)
    ctx = types.SimpleNamespace(L=_NumpyL, policy=None, scratch=lambda name, shape: np.empty(shape, np.float32))
    want = case.numpy(x)
    got = case.lc(ctx, case.lc_inputs(x) if case.lc_inputs else x)
    assert runner.rel_err(got, want) < 1e-4
    if case.integrated is not None:
        assert runner.rel_err(case.integrated(ctx, x), want) < 1e-4


# ---- report formatting ----------------------------------------------------------------------------
def test_report_formats_and_chart_baseline(tmp_path):
    assert report.fmt_ms(None) == "" and report.fmt_ms(0.000834) == "0.000834" and report.fmt_ms(123.45) == "123.5"
    assert report.fmt_x(3.905) == "3.90x" and report.fmt_pct(5.55) == "5.5%" and report.fmt_pct(55.5) == "56%"
    assert report.geomean([1.0, 4.0, None]) == pytest.approx(2.0)
    a = runner.Row("kernel", "a", "cpu", "fp32", "resident", lightning_core_ms=1.0, numpy_ms=3.0, family="f")
    b = runner.Row("kernel", "b", "cpu", "fp32", "resident", lightning_core_ms=2.0, torch_ms=1.0,
                   ours_best_vs_torch=0.5, note="n/a | x", family="f")
    assert report.chart_series([a]) == ("NumPy", [("a [fp32, resident]", 3.0)])
    assert report.chart_series([a, b])[0] == "PyTorch"
    report.write_csv(str(tmp_path / "t.csv"), [a, b])
    rows = _read_csv(tmp_path / "t.csv")
    assert rows[0]["torch_ms"] == "" and rows[1]["ours_best_vs_torch"] == "0.5"
    table = report.format_table([a, b]).splitlines()
    assert len(table) == 4 and set(table[1]) == {"-", " "}
    assert table[0].index("prec") == table[2].index("fp32") == table[3].index("fp32")
    meta = {"machine": {"device": "cpu"}, "ceilings": {}, "comparison_notes": ["note one"]}
    report.write_summary(str(tmp_path / "summary.md"), {"kernel": [a, b]}, meta)
    text = (tmp_path / "summary.md").read_text()
    assert "note one" in text and "n/a \\| x" not in text and "| kernel | f | fp32 | 0.50x | 1 | 3.00x | 1 |" in text
    # Several suites: every per-suite artifact plus summary.md and its chart, summary.png.
    c = runner.Row("ml", "c", "cpu", "fp32", "resident", lightning_core_ms=1.0, torch_ms=2.0,
                   ours_best_vs_torch=2.0, family="g", table=True)
    report.write_all(str(tmp_path / "all"), {"kernel": [a, b], "ml": [c]}, dict(meta, machine={"device": "cpu"}))
    names = sorted(os.listdir(tmp_path / "all"))
    assert {"kernel.csv", "kernel.json", "kernel.md", "ml.csv", "ml.json", "ml.md", "summary.md"} <= set(names)
    if importlib.util.find_spec("matplotlib"):
        assert {"kernel.png", "ml.png", "summary.png"} <= set(names)
        assert (tmp_path / "all" / "summary.png").read_bytes()[:4] == b"\x89PNG"


def test_a_resident_gpu_row_whose_result_comes_home_is_flagged(monkeypatch):
    class FakeLc:  # just enough of lightning_core for a "cuda" row without a GPU
        api = None
        Tensor = staticmethod(lambda a, device: ("dev", a))
        synchronize = staticmethod(lambda device="auto": None)

        class Policy:
            def __init__(self, **kw):
                self.kw = kw
    env = _env()
    env.lc, env.device, env.residencies = FakeLc, "cuda", (cases.RESIDENT,)
    case = _case("home", lambda c, x: np.ones((4, 4), np.float32), numpy=None)
    (row,) = runner.run([case], env)
    assert row.lightning_core_ms > 0 and "came back as a host array" in row.note
