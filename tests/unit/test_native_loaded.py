"""The suite runs with the plan step's C library: a missing or stale build fails here, not silently elsewhere."""

from labelsync.domain import nativecheck


def test_the_native_library_is_built_for_this_cpu() -> None:
    path = nativecheck.library_path()
    assert path.is_file(), f"{path} is missing: run `make install` (it runs `python -m native.build`)"


def test_the_native_library_loads() -> None:
    assert nativecheck.available(), (
        f"{nativecheck.library_path()} did not load (a stale build, or {nativecheck.DISABLE_ENV}=0 is set): "
        "run `make install`"
    )
