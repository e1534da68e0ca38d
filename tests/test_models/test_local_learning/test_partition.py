import pytest

from man_mm.models import partition_units


def test_even_grouping_gives_extras_to_later_modules():
    assert partition_units(5, 2) == [[0, 1], [2, 3, 4]]
    assert [len(g) for g in partition_units(16, 4)] == [4, 4, 4, 4]


def test_default_is_one_unit_per_module():
    assert partition_units(3) == [[0], [1], [2]]


def test_split_points():
    assert partition_units(6, split_points=[2, 5]) == [[0, 1], [2, 3, 4],
                                                       [5]]


@pytest.mark.parametrize('points', [[0], [6], [3, 3], [4, 2]])
def test_bad_split_points(points):
    with pytest.raises(ValueError, match='split_points'):
        partition_units(6, split_points=points)


def test_too_many_modules():
    with pytest.raises(ValueError, match='num_modules=7 is larger'):
        partition_units(6, 7)


def test_memory_balanced_partition_minimises_the_largest_group():
    costs = [5, 3, 2, 2, 2, 2]
    # The unique optimum (largest group cost 6); equal counts would give 8.
    assert partition_units(6, 3, costs=costs) == [[0], [1, 2], [3, 4, 5]]
    assert partition_units(6, 2, costs=costs) == [[0, 1], [2, 3, 4, 5]]
