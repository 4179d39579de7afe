"""Reading the project's NumPy ``.npz`` files with one clear error for every way they fail."""

import os
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np

__all__ = ["read_npz", "discard_stdout", "storable_integers", "stored_integers"]


def read_npz(path, what):
    """Every array of the ``.npz`` file at ``path`` (a dict), read whole; a ``ValueError``
    naming the file (``what``: "model", "workload", ...) when it is missing, truncated,
    corrupt or not an archive."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{what} file {path} is a directory, not an .npz file")
    if not path.is_file():
        raise FileNotFoundError(f"{what} file {path} does not exist")
    with open(path, "rb") as file:
        magic = file.read(4)
    if magic not in (b"PK\x03\x04", b"PK\x05\x06"):  # NumPy would speak of pickled data
        raise ValueError(f"{path} is not a readable NumPy .npz {what} file: it is not a zip "
                         f"archive of arrays, as an .npz file is")
    try:
        with np.load(path, allow_pickle=False) as file:
            if not hasattr(file, "files"):
                raise ValueError("it holds one array, not an .npz archive")
            return {key: file[key] for key in file.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, KeyError) as error:
        raise ValueError(f"{path} is not a readable NumPy .npz {what} file "
                         f"({type(error).__name__}: {error})") from None


def discard_stdout():
    """After a ``BrokenPipeError`` (the reader of standard output went away, as ``| head``
    does): point standard output at ``/dev/null`` so that nothing more, not even Python's
    flush at exit, fails. Not an error of the command's."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def storable_integers(array):
    """Integers as an array ``np.savez`` stores without pickle: as they are, or Python ints
    beyond int64 (:func:`golden.arith.integer_array`) as decimal strings."""
    array = np.asarray(array)
    if array.dtype != object:
        return array
    return np.array([str(int(v)) for v in array.flat]).reshape(array.shape)


def stored_integers(array):
    """The inverse of :func:`storable_integers`: int64, or Python ints from decimal strings."""
    from .arith import integer_array

    array = np.asarray(array)
    if array.dtype.kind != "U":
        return array
    try:
        return integer_array(array)  # int() of each decimal string
    except ValueError:
        raise ValueError(f"integers stored as text must be decimal, not {str(array.flat[0])!r}") \
            from None
