"""Group consecutive units into K gradient-isolated local modules."""
from typing import List, Optional, Sequence


def partition_units(num_units: int,
                    num_modules: Optional[int] = None,
                    split_points: Optional[Sequence[int]] = None,
                    costs: Optional[Sequence[float]] = None,
                    where: str = 'the backbone') -> List[List[int]]:
    """Split ``range(num_units)`` into contiguous groups.

    Args:
        num_units (int): Number of trainable units.
        num_modules (int, optional): K. Defaults to one unit per module.
        split_points (Sequence[int], optional): Unit indices at which a new
            module starts (e.g. ``[4, 8]`` gives three modules). Overrides
            ``num_modules``.
        costs (Sequence[float], optional): Per-unit cost (e.g. activation
            bytes). When given, groups minimise the largest total cost
            (InfoPro*'s balanced split) instead of balancing unit counts.
        where (str): Names the backbone in error messages.

    Returns:
        list[list[int]]: Unit indices of each module, in order.
    """
    if split_points is not None:
        points = list(split_points)
        if points != sorted(set(points)) or not all(
                0 < p < num_units for p in points):
            raise ValueError(
                f'split_points={points} must be strictly increasing unit '
                f'indices in [1, {num_units - 1}] for {where}, which has '
                f'{num_units} trainable units.')
        bounds = [0] + points + [num_units]
        return [list(range(a, b)) for a, b in zip(bounds[:-1], bounds[1:])]

    k = num_units if num_modules is None else int(num_modules)
    if k < 1:
        raise ValueError(f'num_modules must be >= 1, got {num_modules}.')
    if k > num_units:
        raise ValueError(
            f'num_modules={k} is larger than the number of trainable units '
            f'({num_units}) of {where}: a local module needs at least one '
            f'residual block. Use num_modules <= {num_units}, or leave it '
            'unset for one module per unit.')
    if costs is not None:
        return _balanced_partition(list(costs), k)
    # Deeper units are narrower in activation memory, so later groups take
    # the extra units when the count does not divide evenly.
    base, extra = divmod(num_units, k)
    sizes = [base] * (k - extra) + [base + 1] * extra
    groups, start = [], 0
    for size in sizes:
        groups.append(list(range(start, start + size)))
        start += size
    return groups


def _balanced_partition(costs: List[float], k: int) -> List[List[int]]:
    """Contiguous k-partition minimising the largest group cost (exact DP)."""
    n = len(costs)
    prefix = [0.0]
    for c in costs:
        prefix.append(prefix[-1] + c)
    inf = float('inf')
    # best[j][i]: minimal max-cost splitting the first i units into j groups.
    best = [[inf] * (n + 1) for _ in range(k + 1)]
    cut = [[0] * (n + 1) for _ in range(k + 1)]
    best[0][0] = 0.0
    for j in range(1, k + 1):
        for i in range(j, n + 1):
            for m in range(j - 1, i):
                value = max(best[j - 1][m], prefix[i] - prefix[m])
                if value < best[j][i]:
                    best[j][i], cut[j][i] = value, m
    groups, i = [], n
    for j in range(k, 0, -1):
        m = cut[j][i]
        groups.append(list(range(m, i)))
        i = m
    return groups[::-1]
