"""Auto-folding: the PE and SIMD of every layer for a target throughput, at the least estimated
cost (FINN's ``SetFolding``, exact instead of greedy).

Every layer must meet the target on its own: a pipeline runs at its slowest layer's
``expected_cycles()``. A layer's candidates are all the foldings its shape allows that do:

* MVTU: ``pe`` dividing ``mh`` and ``simd`` dividing ``mw`` (whole codes, for thermometer
  inputs), ``pe * simd <= max_pe_simd``;
* sliding window: ``simd`` dividing ``channels``;
* max-pool: ``pe`` dividing ``channels``.

The cost of a folding is the sum over layers of ``Resources.cost(target)`` from
:mod:`hwgen.estimate` on the FPGA family's :class:`~hwgen.target.Target` (LUTs, a block RAM
counted as ``target.bram_luts`` LUTs and a multiplier as ``target.dsp_luts``), plus, with
``converters``, the width converter between two layers whose stream widths differ (a
producer's ``pe`` outputs against its consumer's ``simd`` inputs: so a sliding window need not
match its MVTU's SIMD, but pays a converter where it does not;
:func:`hwgen.estimate.converter`). The layer terms are independent given the cycles, but a
converter couples two neighbours, so the cheapest folding of the chain is found by dynamic
programming over the layers: exact, the least sum of layer and converter costs over all
combinations of candidates, in time linear in the layers. In a graph that is not a chain the
dynamic programme runs along the layers' order and weighs the converters of the edges between
neighbours in it; the others (a residual shortcut's, a concatenation's second input) are in
:func:`folding_cost` but not minimised over. Every layer, on every branch, meets the same
cycles per frame, so branches that meet again at a join run at the same rate.
The estimated cost of a layer is not monotone in its parallelism (a smaller fold can move the
weights between block RAM and LUTs; a 1-bit-wide replay buffer costs more than a 2-bit one), so
every candidate is costed; none is skipped by a greedy rule.

FIFOs are not part of the cost: their depths come from FIFO sizing, after folding.
"""
import dataclasses
import math

from ..errors import HwgenError
from ..estimate import estimate_layer
from ..ir import Graph, converter
from ..ops import op_for
from ..target import DEFAULT_TARGET, Resources, Target

__all__ = ["FoldingError", "MAX_PE_SIMD", "auto_fold", "board_reserve", "estimate_build",
           "fold_options",
           "fold_report", "folding_cost", "target_from_fps"]

#: Default cap on the synapses an MVTU computes per cycle (``pe * simd``): about 15,000 LUT4s of
#: XNOR-popcount, a fifth of an LFE5U-85F. It keeps a tiny target from asking for absurd layers.
MAX_PE_SIMD = 4096


class FoldingError(HwgenError):
    """A throughput target no folding of the graph can meet.

    Where no folding fits a budget, ``least`` (the folding that came closest, a
    :class:`~hwgen.ir.Graph`), ``needed`` (its estimate with the board top's reserve) and
    ``budget`` say by how much; otherwise they are None."""

    def __init__(self, message: str, *, least=None, needed: Resources | None = None,
                 budget: Resources | None = None):
        super().__init__(message)
        self.least, self.needed, self.budget = least, needed, budget


def target_from_fps(fps: float, clock_hz: float) -> int:
    """Cycles per frame that sustain ``fps`` frames per second at ``clock_hz``:
    ``floor(clock_hz / fps)``.

    Raises
    ------
    FoldingError
        Less than one cycle per frame.
    """
    for name, value in (("fps", fps), ("clock_hz", clock_hz)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a positive number, not {value!r}")
    cycles = math.floor(clock_hz / fps)
    if cycles < 1:
        raise FoldingError(f"{fps:g} frames/s at {clock_hz / 1e6:g} MHz leaves less than one "
                           f"cycle per frame")
    return cycles


def _foldings(layer, max_pe_simd: int) -> list[dict]:
    """Every folding the layer's shape allows: field changes, least parallel first."""
    return op_for(layer).foldings(layer, max_pe_simd=max_pe_simd)


def _current(layer) -> dict:
    return op_for(layer).folding(layer)


def _describe(fields: dict) -> str:
    return ", ".join(f"{key}={value}" for key, value in fields.items())


def fold_options(layer, target_cycles: int, *, max_pe_simd: int = MAX_PE_SIMD) -> list:
    """The foldings of ``layer`` (copies of it) that meet ``target_cycles``, least parallel
    first."""
    result = []
    for fields in _foldings(layer, max_pe_simd):
        folded = dataclasses.replace(layer, **fields)
        if folded.expected_cycles() <= target_cycles:
            result.append(folded)
    return result


def _best_achievable(layer, fixed: bool, max_pe_simd: int) -> tuple[int, str]:
    """Least cycles/frame of ``layer`` and why no fewer, in words."""
    if fixed:
        return (layer.expected_cycles(),
                f"layer {layer.name!r} fixed at {_describe(_current(layer))}")
    best = min(_foldings(layer, max_pe_simd),
               key=lambda f: dataclasses.replace(layer, **f).expected_cycles())
    cycles = dataclasses.replace(layer, **best).expected_cycles()
    why = op_for(layer).folding_limit(layer, best, max_pe_simd=max_pe_simd)
    return cycles, f"layer {layer.name!r} at {_describe(best)}: {why}"


def _link_resources(producer, consumer, target: Target, port: int = 0) -> Resources:
    """The resources of the width converter between ``producer`` and input ``port`` of
    ``consumer`` (none for none)."""
    between = converter(producer, consumer, port)
    return Resources() if between is None else estimate_layer(between, target)


def _link_cost(producer, consumer, target: Target, port: int = 0) -> float:
    """The cost of the width converter between ``producer`` and input ``port`` of
    ``consumer`` (0 for none)."""
    return _link_resources(producer, consumer, target, port).cost(target)


def _neighbour_port(graph: Graph, index: int) -> int | None:
    """The input of layer ``index`` that layer ``index - 1`` feeds, None if it feeds none."""
    sources = graph.sources[index]
    previous = graph.layers[index - 1].name
    return sources.index(previous) if previous in sources else None


def estimate_build(graph: Graph, target: Target = DEFAULT_TARGET, *,
                   fifo_depth: int = 2) -> Resources:
    """Resources of every stage a network of ``graph`` builds
    (:func:`hwgen.hw.network.stage_layers`: the layers, forks, width converters, FIFOs at the
    graph's sized depths or else the default rule's, the label select): what a device must
    hold beside the board top (:func:`board_reserve`). Here, not in :mod:`hwgen.estimate`,
    which prices layers below the network that assembles them."""
    from ..hw.network import stage_layers
    return sum((estimate_layer(layer, target)
                for layer in stage_layers(graph, fifo_depth=fifo_depth)), Resources())


def board_reserve(target: Target, device: str | None = None) -> Resources:
    """What a board top takes beside the network on part ``device`` (None: the family's
    largest share), in block RAM: its demo ROM of test frames
    (:meth:`~hwgen.target.Target.demo_rom_share`, as 16-bit banks). Its UART and control
    logic, some hundreds of LUTs, are left to the fit's margin."""
    per_bram = 16 * target.rom_bank_depth(16)
    return Resources(brams=-(-target.demo_rom_share(device) // per_bram))


class _Search:
    """The candidates of every layer that meet ``target_cycles``, their estimated resources
    and those of the width converters between neighbours, computed once; :meth:`solve` is
    the dynamic programme for one weighting of the resources. ``cache`` keeps estimates
    between searches of the same graph at other targets (a looser target's candidates include
    a tighter one's)."""

    def __init__(self, graph: Graph, target_cycles: int, fixed: set, target: Target,
                 max_pe_simd: int, converters: bool, styles: bool = False,
                 cache: dict | None = None):
        self.graph, self.target = graph, target
        cache = {} if cache is None else cache

        def key(option):
            return (option.name, tuple(sorted(_current(option).items())),
                    getattr(option, "ram_style", None))

        def estimate(option):
            found = cache.get(key(option))
            if found is None:
                found = cache[key(option)] = estimate_layer(option, target)
            return found

        def link(previous, option, port):
            pair = ("link", key(previous), key(option), port)
            found = cache.get(pair)
            if found is None:
                found = cache[pair] = _link_resources(previous, option, target, port)
            return found
        candidates = []
        for layer in graph.layers:
            if layer.name in fixed:
                options = [layer] if layer.expected_cycles() <= target_cycles else []
            else:
                options = fold_options(layer, target_cycles, max_pe_simd=max_pe_simd)
                if styles and _free_style(layer):
                    options += [dataclasses.replace(option, ram_style="distributed")
                                for option in options]
            candidates.append(options)
        if not all(candidates):
            limits = [_best_achievable(layer, layer.name in fixed, max_pe_simd)
                      for layer in graph.layers]
            cycles, why = max(limits, key=lambda limit: limit[0])
            raise FoldingError(f"target {target_cycles} cycles/frame cannot be met: best "
                               f"achievable is {cycles} ({why})")
        self.candidates = candidates
        self.resources = [[estimate(option) for option in options] for options in candidates]
        self.links = [None]
        for index in range(1, len(candidates)):
            port = _neighbour_port(graph, index)
            if not converters or port is None:
                self.links.append(None)
                continue
            self.links.append([[link(previous, option, port)
                                for previous in candidates[index - 1]]
                               for option in candidates[index]])

    def solve(self, weights: tuple) -> list[int]:
        """The index of each layer's candidate in the folding of least weighted cost:
        ``weights`` per LUT, flip-flop, block RAM and multiplier."""
        def price(resources):
            return (weights[0] * resources.luts + weights[1] * resources.ffs
                    + weights[2] * resources.brams + weights[3] * resources.dsps)

        best = [price(r) for r in self.resources[0]]
        choices = []
        for index in range(1, len(self.candidates)):
            step_best, step_choice = [], []
            links = self.links[index]
            for k_option, resources in enumerate(self.resources[index]):
                totals = [best[k] + (price(links[k_option][k]) if links else 0)
                          for k in range(len(best))]
                k = min(range(len(totals)), key=totals.__getitem__)
                step_best.append(totals[k] + price(resources))
                step_choice.append(k)
            best = step_best
            choices.append(step_choice)
        k = min(range(len(best)), key=best.__getitem__)
        chosen = [k]
        for step_choice in reversed(choices):
            k = step_choice[k]
            chosen.append(k)
        chosen.reverse()
        return chosen

    def graph_of(self, chosen: list[int], fixed: set) -> Graph:
        changes = {}
        for layer, options, k in zip(self.graph.layers, self.candidates, chosen):
            if layer.name not in fixed:
                changes[layer.name] = _current(options[k])
                if getattr(options[k], "ram_style", None) != getattr(layer, "ram_style", None):
                    changes[layer.name]["ram_style"] = options[k].ram_style
        return self.graph.with_layers(changes)


def _free_style(layer) -> bool:
    """Whether the fit may move ``layer``'s weights into logic: a layer whose ``ram_style``
    is ``auto`` (the synthesis tool's choice; one the spec forces stays), weights not in a
    macro."""
    return getattr(layer, "ram_style", None) == "auto" and getattr(layer, "macro", None) is None


def _shares(needed: Resources, budget: Resources) -> list[float]:
    """The share of ``budget`` that ``needed`` takes of each resource: LUTs, flip-flops,
    block RAM, multipliers."""
    return [needed.luts / max(1, budget.luts), needed.ffs / max(1, budget.ffs),
            needed.brams / max(1, budget.brams) if needed.brams else 0.0,
            needed.dsps / max(1, budget.dsps) if needed.dsps else 0.0]


def _over(needed: Resources, budget: Resources) -> float:
    """The largest share of ``budget`` that ``needed`` takes of one resource."""
    return max(_shares(needed, budget))


def _fits(needed: Resources, budget: Resources) -> bool:
    return (needed.luts <= budget.luts and needed.ffs <= budget.ffs
            and needed.brams <= budget.brams and needed.dsps <= budget.dsps)


def _fitting(search: _Search, fixed: set, budget: Resources, target: Target,
             reserve: Resources, rounds: int = 24
             ) -> tuple[Graph | None, Graph, Resources, bool]:
    """The first folding found that fits ``budget`` (None if none does), the least
    demanding one tried, its resources (:func:`estimate_build` plus the
    board reserve), and whether the fit is the unconstrained optimum (the first folding tried).
    The search starts from the cost :func:`auto_fold` minimises and, while the
    folding overruns a resource, doubles that resource's weight (and halves the weight of
    block RAM and multipliers where LUTs overrun with block RAM or multipliers to spare), a
    few dozen dynamic programmes: the fit is not proven optimal."""
    weights = [1.0, 0.0, float(target.bram_luts), float(target.dsp_luts)]
    least, least_over = None, math.inf
    for round_ in range(rounds):
        folded = search.graph_of(search.solve(tuple(weights)), fixed)
        needed = estimate_build(folded, target) + reserve
        over = _shares(needed, budget)
        if max(over) < least_over:
            least, least_needed, least_over = folded, needed, max(over)
        if _fits(needed, budget):
            return folded, least, least_needed, round_ == 0
        if over[0] > 1 and (over[2] < 1 or over[3] < 1):
            weights[2] /= 2 if over[2] < 1 else 1
            weights[3] /= 2 if over[3] < 1 else 1
        weights[1] = max(weights[1], 0.25) * 2 if over[1] > 1 else weights[1]
        weights[2] *= 2 if over[2] > 1 else 1
        weights[3] *= 2 if over[3] > 1 else 1
    return None, least, least_needed, False


def auto_fold(graph: Graph, *, target_cycles: int | None, fixed=(),
              target: Target = DEFAULT_TARGET, max_pe_simd: int = MAX_PE_SIMD,
              converters: bool = True, budget: Resources | None = None,
              device: str | None = None) -> Graph:
    """A copy of ``graph`` folded to run at ``target_cycles`` per frame or faster, at the least
    estimated cost; with a ``budget``, one that fits it too, or with ``target_cycles`` None
    the fastest that fits it.

    Parameters
    ----------
    graph : Graph
    target_cycles : int or None
        Cycles per frame every layer must meet (see :func:`target_from_fps`); None (with a
        ``budget``): the fewest cycles per frame of a folding that fits.
    fixed : iterable of str
        Names of layers whose folding stays as given (they must meet the target too).
    target : :class:`hwgen.target.Target`
        The FPGA family whose estimates and cost weights (``bram_luts``, ``dsp_luts``) price a
        folding (default: :data:`hwgen.target.DEFAULT_TARGET`, where no board is known).
    max_pe_simd : int
        Most synapses per cycle (``pe * simd``) an MVTU may be given.
    converters : bool
        Count the width converters between layers in the cost.
    budget : :class:`hwgen.target.Resources` or None
        What the folded network, every stage a :class:`hwgen.hw.network.Network` builds
        (:func:`estimate_build`) and the board top's demo ROM
        (:func:`board_reserve`) included, may take: a device's capacity times a margin.
    device : str or None
        The device's name, for messages.

    Raises
    ------
    FoldingError
        No folding meets the target (the message names the limiting layer and the best
        achievable cycles per frame), none that does fits the budget (the message gives the
        least the search reached), or ``fixed`` names no layer of the graph.
    """
    if target_cycles is None and budget is None:
        raise ValueError("target_cycles None (the fastest folding) needs a budget")
    if target_cycles is not None and (isinstance(target_cycles, bool)
                                      or not isinstance(target_cycles, int) or target_cycles < 1):
        raise ValueError(f"target_cycles must be a positive integer, not {target_cycles!r}")
    if isinstance(max_pe_simd, bool) or not isinstance(max_pe_simd, int) or max_pe_simd < 1:
        raise ValueError(f"max_pe_simd must be a positive integer, not {max_pe_simd!r}")
    fixed = {fixed} if isinstance(fixed, str) else set(fixed)
    names = [layer.name for layer in graph.layers]
    unknown = fixed - set(names)
    if unknown:
        raise FoldingError(f"cannot fix layers {', '.join(sorted(unknown))}: no such layer "
                           f"(layers: {', '.join(names)})")

    cache = {}
    # The board top's demo ROM on this part (a part the family does not list: its largest).
    reserve = board_reserve(target, device if device in target.devices else None)

    def search(cycles, styles=False):
        return _Search(graph, cycles, fixed, target, max_pe_simd, converters, styles, cache)

    def cost(needed: Resources) -> float:
        return (needed.luts + target.bram_luts * needed.brams
                + target.dsp_luts * needed.dsps)

    def fit_at(cycles):
        # The foldings as the spec places the weights first, so that a network whose
        # cheapest folding fits is built as it would be without a budget; else also with
        # weights free to move into logic (``ram_style`` distributed), where block RAM runs
        # out first: the cheaper fit of the two (a costlier folding that keeps the weights
        # where the spec leaves them may lose to moving them).
        found, least, needed, optimal = _fitting(search(cycles), fixed, budget, target,
                                                 reserve)
        if not optimal and any(_free_style(layer) for layer in graph.layers
                               if layer.name not in fixed):
            moved, moved_least, moved_needed, _ = _fitting(
                search(cycles, styles=True), fixed, budget, target, reserve)
            if moved is not None and (found is None or cost(estimate_build(moved, target))
                                      < cost(estimate_build(found, target))):
                return moved, moved_least, moved_needed
            if found is None and _over(moved_needed, budget) < _over(needed, budget):
                return None, moved_least, moved_needed
        return found, least, needed

    if budget is None:
        found = search(target_cycles)
        weights = (1.0, 0.0, float(target.bram_luts), float(target.dsp_luts))
        return found.graph_of(found.solve(weights), fixed)
    where = device or "the budget"
    if target_cycles is not None:
        best, least, needed = fit_at(target_cycles)
        if best is None:
            raise FoldingError(_no_fit(where, budget, target, least, needed,
                                       f"at {target_cycles} cycles/frame", reserve),
                               least=least, needed=needed, budget=budget)
        return best
    # The fastest that fits: the least cycles/frame among the layers' own, by bisection
    # (a target met by a folding that fits is met by it at any slower target).
    levels = sorted({option.expected_cycles() for layer in graph.layers
                     for option in ([layer] if layer.name in fixed else
                                    [dataclasses.replace(layer, **fields) for fields in
                                     _foldings(layer, max_pe_simd)])})
    floor = max(_best_achievable(layer, layer.name in fixed, max_pe_simd)[0]
                for layer in graph.layers)
    levels = [cycles for cycles in levels if cycles >= floor] or [floor]
    best, least, needed = fit_at(levels[-1])
    if best is None:
        raise FoldingError(_no_fit(where, budget, target, least, needed,
                                   "at any cycles/frame", reserve),
                           least=least, needed=needed, budget=budget)
    low, high = 0, len(levels) - 1        # levels[high] fits
    while low < high:
        middle = (low + high) // 2
        found, _, _ = fit_at(levels[middle])
        if found is not None:
            high, best = middle, found
        else:
            low = middle + 1
    return best


def _no_fit(where: str, budget: Resources, target: Target, least: Graph, needed: Resources,
            when: str, reserve: Resources) -> str:
    units = target.units
    return (f"no folding fits {where} {when}: the least found takes "
            f"{needed.luts:,} {units['luts']}, {needed.ffs:,} {units['ffs']}, "
            f"{needed.brams:,} {units['brams']} (the board top's {reserve.brams} for its demo ROM "
            f"included), {needed.dsps:,} {units['dsps']} at {least.expected_cycles():,} "
            f"cycles/frame; the budget is {budget.luts:,}, {budget.ffs:,}, {budget.brams:,}, "
            f"{budget.dsps:,}{_largest_over(least, needed, budget, target)}")


def _largest_over(least: Graph, needed: Resources, budget: Resources, target: Target) -> str:
    """``"; most of the X: layer n, layer n, ..."`` for the resource most over ``budget``
    in ``least`` (the layers that take the most of it), or ``""`` where none is over."""
    have = dataclasses.asdict(budget)
    over = [(need / max(1, have[field]), field)
            for field, need in dataclasses.asdict(needed).items() if need > have[field]]
    if not over:
        return ""
    field = max(over)[1]
    parts = ", ".join(f"{name} {value:,}" for name, value in largest_layers(least, target, field))
    return f"; most of the {target.units[field]}: {parts}"


def largest_layers(graph: Graph, target: Target, field: str, count: int = 3) -> list:
    """``(name, estimate)`` of the ``count`` layers of ``graph`` that take the most of
    ``field`` (``luts``, ``ffs``, ``brams`` or ``dsps``) on ``target``, largest first; layers
    that take none are left out."""
    rows = sorted(fold_report(graph, target), key=lambda row: -row[field])[:count]
    return [(row["name"], row[field]) for row in rows if row[field]]


def folding_cost(graph: Graph, *, target: Target = DEFAULT_TARGET,
                 converters: bool = True) -> float:
    """The cost :func:`auto_fold` minimises, of ``graph`` as folded, on ``target``."""
    total = sum(estimate_layer(layer, target).cost(target) for layer in graph.layers)
    if converters:
        layers = {layer.name: layer for layer in graph.layers}
        total += sum(_link_cost(layers[edge.producer], layers[edge.consumer], target, edge.port)
                     for edge in graph.edges())
    return total


def fold_report(graph: Graph, target: Target = DEFAULT_TARGET) -> list[dict]:
    """Per layer: ``name``, ``op``, ``pe`` and ``simd`` (``None`` where the op has none),
    ``cycles`` (per frame), estimated ``luts``, ``ffs``, ``brams``, ``dsps`` on ``target``, and
    ``bottleneck`` (whether the layer sets the graph's cycles per frame)."""
    slowest = graph.expected_cycles()
    rows = []
    for layer in graph.layers:
        resources = estimate_layer(layer, target)
        fields = _current(layer)
        cycles = layer.expected_cycles()
        rows.append({"name": layer.name, "op": layer.op, "pe": fields.get("pe"),
                     "simd": fields.get("simd"), "cycles": cycles, "luts": resources.luts,
                     "ffs": resources.ffs, "brams": resources.brams, "dsps": resources.dsps,
                     "bottleneck": cycles == slowest})
    return rows
