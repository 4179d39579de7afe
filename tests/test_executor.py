"""scripts.executor: the same results in this process, on local processes and on a Dask
LocalCluster, in the items' order; scheduler addresses checked."""

import pytest

from scripts.executor import check_scheduler, map_jobs, run_jobs


def _power(shared, item):
    return shared ** item


@pytest.mark.parametrize("jobs", [1, 2])
def test_local_runs_give_every_result_and_map_keeps_the_order(jobs):
    items = list(range(12))
    assert sorted(run_jobs(_power, 3, items, jobs=jobs)) == [(i, 3 ** i) for i in items]
    assert map_jobs(_power, 3, items, jobs=jobs) == [3 ** i for i in items]


def test_a_dask_cluster_gives_the_same_results():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        assert map_jobs(_power, 2, range(10), scheduler=cluster.scheduler_address) == \
            map_jobs(_power, 2, range(10), jobs=1)


@pytest.mark.parametrize("address,message", [
    ("", "must be a Dask scheduler address"),
    ("tcp://host", "needs a port"),
    ("http://host:80", "unknown protocol 'http'"),
])
def test_bad_scheduler_addresses_are_errors(address, message):
    with pytest.raises(ValueError, match=message):
        check_scheduler(address)
    assert check_scheduler("tcp://10.0.0.1:8786") == "tcp://10.0.0.1:8786"
    assert check_scheduler("host:8786") == "host:8786"
