"""Folding to a device budget: the family's parts and their capacities, the cheapest folding
that meets a target and fits, the fastest that fits, one line when nothing fits, and the spec
and flow around them (on the shipped KWS IR)."""
import pytest

from hwgen.board.board import load_board
from hwgen.ir import load_ir
from hwgen.ops import op_for
from hwgen.passes import fold as fold_module
from hwgen.passes.fold import (MAX_PE_SIMD, FoldingError, auto_fold, board_reserve,
                               estimate_build, fold_report)
from hwgen.target import Resources, target
from tests.conftest import REPO, spec_error

ECP5 = target("ecp5")


@pytest.fixture(scope="module")
def kws():
    graph = load_ir(REPO / "examples" / "kws" / "model.ir.npz")
    return graph, tuple(graph.meta.get("fixed_folding", ()))


def _needed(graph):
    return estimate_build(graph, ECP5) + board_reserve(ECP5)


def _fits(needed, budget):
    return all(getattr(needed, name) <= getattr(budget, name)
               for name in ("luts", "ffs", "brams", "dsps"))


def test_every_board_part_has_its_capacity():
    for name, variants in (("ulx3s", ("12F", "25F", "45F", "85F")), ("icebreaker", ("UP5K",))):
        for variant in variants:
            board = load_board(name, variant=variant)
            capacity = board.target.capacity(board.device)
            assert capacity.luts > 5000 and capacity.brams >= 30 and capacity.dsps >= 8
    assert ECP5.capacity("LFE5U-85F") == Resources(83_640, 83_640, 208, 156)
    with pytest.raises(ValueError, match="ecp5 has no part 'LFE5U-99F' \\(known: LFE5U-12F"):
        ECP5.capacity("LFE5U-99F")
    assert board_reserve(ECP5) == Resources(brams=16)       # 256 Kbit of 16-bit banks
    assert board_reserve(ECP5, "LFE5U-85F") == Resources(brams=16)
    assert board_reserve(ECP5, "LFE5U-12F") == Resources(brams=7)    # an eighth of 56


def test_a_roomy_budget_changes_nothing(kws):
    graph, fixed = kws
    free = auto_fold(graph, target_cycles=800, fixed=fixed, target=ECP5)
    roomy = auto_fold(graph, target_cycles=800, fixed=fixed, target=ECP5,
                      budget=ECP5.capacity("LFE5U-85F"))
    from hwgen.ops import op_for
    assert [op_for(layer).folding(layer) for layer in roomy.layers] == \
        [op_for(layer).folding(layer) for layer in free.layers]


def test_a_tight_budget_moves_the_folding_into_it(kws):
    """The cheapest folding at 800 cycles/frame takes more block RAM than allowed; the fit
    trades LUTs for block RAM and still meets the target."""
    graph, fixed = kws
    free = auto_fold(graph, target_cycles=800, fixed=fixed, target=ECP5)
    budget = Resources(80_000, 80_000, _needed(free).brams - 5, 156)
    fitted = auto_fold(graph, target_cycles=800, fixed=fixed, target=ECP5, budget=budget)
    assert not _fits(_needed(free), budget) and _fits(_needed(fitted), budget)
    assert fitted.expected_cycles() <= 800 and _needed(fitted).luts > _needed(free).luts


def test_out_of_block_ram_the_fit_moves_auto_weights_into_logic(kws):
    """Twenty block RAMs fewer than the cheapest folding takes, LUTs to spare: no folding alone
    fits, so the fit moves a ``ram_style: auto`` layer's weights (conv0's thermometer tables)
    into logic; the spec's ``block`` (conv2) and the cim layer's macro stay."""
    graph, fixed = kws
    free = auto_fold(graph, target_cycles=800, fixed=fixed, target=ECP5)
    budget = Resources(80_000, 80_000, _needed(free).brams - 20, 156)
    fitted = auto_fold(graph, target_cycles=800, fixed=fixed, target=ECP5, budget=budget)
    styles = {layer.name: layer.ram_style for layer in fitted.layers
              if hasattr(layer, "ram_style")}
    assert styles == {"conv0": "distributed", "conv2": "block", "fc4": "auto", "fc5": "auto"}
    assert _fits(_needed(fitted), budget) and fitted.expected_cycles() <= 800
    # With the LUTs that move would take held back, nothing fits: one line, the least found.
    with pytest.raises(FoldingError, match="no folding fits the budget at 800 cycles/frame"):
        auto_fold(graph, target_cycles=800, fixed=fixed, target=ECP5,
                  budget=Resources(40_000, 80_000, budget.brams, 156))


def test_the_fastest_that_fits(kws):
    graph, fixed = kws
    budget = Resources(40_000, 80_000, 200, 156)
    fastest = auto_fold(graph, target_cycles=None, fixed=fixed, target=ECP5, budget=budget)
    assert _fits(_needed(fastest), budget)
    with pytest.raises(FoldingError):           # one cycle fewer: none fits, or none exists
        auto_fold(graph, target_cycles=fastest.expected_cycles() - 1, fixed=fixed,
                  target=ECP5, budget=budget)
    smaller = Resources(24_000, 80_000, 200, 156)
    slower = auto_fold(graph, target_cycles=None, fixed=fixed, target=ECP5, budget=smaller)
    assert _fits(_needed(slower), smaller)
    assert slower.expected_cycles() > fastest.expected_cycles()
    with pytest.raises(ValueError, match="target_cycles None \\(the fastest folding\\) needs "
                                         "a budget"):
        auto_fold(graph, target_cycles=None, target=ECP5)


@pytest.mark.parametrize("cycles,when", [(800, "at 800 cycles/frame"),
                                         (None, "at any cycles/frame")])
def test_nothing_fits_in_one_line(kws, cycles, when):
    graph, fixed = kws
    with pytest.raises(FoldingError) as error:
        auto_fold(graph, target_cycles=cycles, fixed=fixed, target=ECP5,
                  budget=Resources(8_000, 8_000, 56, 28), device="LFE5U-12F")
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"no folding fits LFE5U-12F {when}: "
                                                      f"the least found takes ")
    assert "DP16KD (the board top's 7 for its demo ROM included)" in message
    assert "; the budget is 8,000, 8,000, 56, 28; most of the " in message
    # The error carries the least folding found, its estimate and the budget; the message
    # names the three layers that take the most of the resource most over budget.
    least, needed, budget = error.value.least, error.value.needed, error.value.budget
    assert budget == Resources(8_000, 8_000, 56, 28)
    assert needed == estimate_build(least, ECP5) + board_reserve(ECP5, "LFE5U-12F")
    shares = {field: getattr(needed, field) / getattr(budget, field)
              for field in ("luts", "ffs", "brams", "dsps")}
    worst = max(shares, key=shares.get)
    assert shares[worst] > 1
    rows = sorted(fold_report(least, ECP5), key=lambda row: -row[worst])[:3]
    assert message.endswith(f"most of the {ECP5.units[worst]}: "
                            + ", ".join(f"{row['name']} {row[worst]:,}" for row in rows))


def test_the_kws_fits_the_smallest_ulx3s(kws):
    """On the 12F (its demo ROM an eighth of the block RAM) the fastest KWS folding fits
    the spec's margin of the part; the 85F's is faster."""
    from hwgen.flow.hardware import device_budget
    from hwgen.spec import load_spec
    graph, fixed = kws
    spec = load_spec(REPO / "examples" / "kws.yaml")
    budget = device_budget(spec, ECP5, "LFE5U-12F")
    small = auto_fold(graph, target_cycles=None, fixed=fixed, target=ECP5, budget=budget,
                      device="LFE5U-12F")
    assert _fits(estimate_build(small, ECP5) + board_reserve(ECP5, "LFE5U-12F"), budget)
    large = auto_fold(graph, target_cycles=None, fixed=fixed, target=ECP5,
                      budget=device_budget(spec, ECP5, "LFE5U-85F"), device="LFE5U-85F")
    assert large.expected_cycles() < small.expected_cycles()


@pytest.mark.parametrize("change,message", [
    ({"fit": "fastest", "target_cycles": 800},
     "hardware.target_cycles: cannot be given with fit: fastest"),
    ({"fit": "smallest"}, "hardware.fit: unknown value 'smallest' (allowed: cheapest, fastest)"),
    ({"fit_margin": 1.5}, "hardware.fit_margin: must lie in 0.1..1, not 1.5"),
    ({"folding": "loose"}, "hardware.folding: unknown value 'loose' (allowed: spec, free)"),
])
def test_fit_spec_errors(change, message):
    mapping = {"name": "f", "data": {"dataset": "digits", "input_threshold": 7},
               "model": {"layers": [{"type": "linear", "out": 10}]}, "hardware": change}
    assert message in spec_error(mapping)


def test_the_budget_is_the_part_times_the_margin():
    from hwgen.flow.hardware import device_budget
    from hwgen.spec import parse_spec
    spec = parse_spec({"name": "f", "data": {"dataset": "digits", "input_threshold": 7},
                       "model": {"layers": [{"type": "linear", "out": 10}]},
                       "hardware": {"fit_margin": 0.5}}, file="f.yaml")
    assert device_budget(spec, ECP5, "LFE5U-85F") == Resources(41_820, 41_820, 104, 78)
    assert device_budget(spec, ECP5, None) is None


def test_a_free_cim_layer_folds_by_its_pe_only(kws):
    """The cim layer left free (the spec's pe dropped): its foldings keep one wordline group a
    cycle and at most the macro's columns, and a target its fixed pe=8 cannot meet (768
    cycles/frame) is met by a wider macro read; the thermometer layer's tables count as
    elements, so it can go that fast too."""
    graph, _ = kws
    cim = next(layer for layer in graph.layers if getattr(layer, "macro", None) is not None)
    options = op_for(cim).foldings(cim, max_pe_simd=MAX_PE_SIMD)
    assert options and all(o["simd"] == cim.macro.wordlines
                           and o["pe"] * cim.macro.weight_bits <= cim.macro.columns
                           for o in options)
    with pytest.raises(FoldingError, match="fixed at pe=8"):
        auto_fold(graph, target_cycles=416, fixed=(cim.name,), target=ECP5)
    fast = auto_fold(graph, target_cycles=416, target=ECP5)
    assert fast.expected_cycles() <= 416
    folded = next(layer for layer in fast.layers if layer.name == cim.name)
    assert folded.simd == cim.macro.wordlines and folded.pe > cim.pe


@pytest.mark.parametrize("folding", ["spec", "free"])
def test_folding_free_lets_the_hardware_step_fold_the_spec_s_pinned_layers(tmp_path, folding):
    """``hardware.folding: free``: the hardware step folds the layers the spec pins too (the
    cim layer's pe=8, which cannot meet 416 cycles/frame) and leaves their weights to the fit
    (conv2's ``ram_style: block`` becomes auto); with ``spec`` the pin is a limit, in one
    line. The shipped IR is the same either way: the option is the hardware's alone."""
    import dataclasses
    from hwgen.errors import HwgenError
    from hwgen.spec import load_spec
    from tests.conftest import export_shipped
    spec = load_spec(REPO / "examples" / "kws.yaml")
    spec = dataclasses.replace(spec, hardware=dataclasses.replace(
        spec.hardware, target_cycles=416, size_fifos=False, folding=folding))
    workspace, graph, _ = export_shipped(spec, tmp_path)
    if folding == "spec":
        with pytest.raises(HwgenError, match=r"^target 416 cycles/frame cannot be met: best "
                                             r"achievable is 768 \(layer 'fc4' fixed at pe=8"):
            workspace.hardware(graph)
        return
    built = workspace.hardware(graph)
    layers = {layer.name: layer for layer in built.layers}
    assert built.expected_cycles() <= 416 < graph.expected_cycles()
    assert layers["fc4"].pe > 8 and layers["fc4"].macro is not None
    assert layers["conv2"].ram_style == "auto"
    assert {layer.name: getattr(layer, "ram_style", None) for layer in graph.layers}["conv2"] \
        == "block"


def test_the_fit_takes_the_cheaper_of_refolding_and_moving_weights(kws):
    """With block RAM short, a folding that keeps conv0's tables where Yosys puts them may
    fit at far more LUTs than moving them into logic: the fit takes the cheaper."""
    graph, fixed = kws
    free = auto_fold(graph, target_cycles=800, fixed=fixed, target=ECP5)
    budget = Resources(80_000, 80_000, _needed(free).brams - 20, 156)
    fitted = auto_fold(graph, target_cycles=800, fixed=fixed, target=ECP5, budget=budget)
    kept = [layer.ram_style for layer in fitted.layers if layer.name == "conv0"]
    assert kept == ["distributed"]
    cost = lambda needed: needed.luts + ECP5.bram_luts * needed.brams  # noqa: E731
    # What refolding alone reached (styles as the spec leaves them) costs more.
    refolded = fold_module._fitting(
        fold_module._Search(graph, 800, set(fixed), ECP5, MAX_PE_SIMD, True, False, {}),
        set(fixed), budget, ECP5, board_reserve(ECP5))[0]
    assert refolded is not None
    assert cost(_needed(fitted)) < cost(_needed(refolded))
