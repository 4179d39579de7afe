"""A standard-cell library's numbers for area and energy, read from its Liberty file.

Parsed with the maintained ``liberty-parser`` package; this module keeps what the area and
energy models need, in SI-derived units stated per field:

- per cell: area (µm²), leakage (nW), pins with direction and input capacitance (pF), the
  output functions, and every ``internal_power`` arc (related pin, rise and fall energy tables);
- table lookup with bilinear interpolation (and linear extrapolation beyond the table, as
  timing tools do) over input transition (ns) and output load (pF).

Units: this library declares ``capacitive_load_unit (1, pf)``, ``voltage_unit 1V``,
``leakage_power_unit 1nW`` and no ``internal_power_unit``; internal energy tables are then in
capacitance × voltage² units, pF·V² = pJ per transition.

The OSU 0.18 µm library comes from Debian's ``qflow-tech-osu018`` package, extracted (not
installed: installing pulls in all of qflow) by ``scripts/install-system-deps.sh`` to
:data:`OSU018_LIBERTY`.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["OSU018_LIBERTY", "Table", "Arc", "Pin", "Cell", "Library", "load_library"]

OSU018_LIBERTY = Path("/opt/qflow-tech-osu018/usr/share/qflow/tech/osu018/osu018_stdcells.lib")


def _floats(value):
    """Liberty number lists ("0.1, 0.2" or ["0.1, 0.2", ...]) as a float array."""
    rows = value if isinstance(value, (list, tuple)) else [value]
    parsed = [[float(x) for x in str(row).strip('"').replace("\\", "").split(",") if x.strip()]
              for row in rows]
    return np.array(parsed if len(parsed) > 1 else parsed[0], dtype=np.float64)


@dataclass(frozen=True)
class Table:
    """A lookup table over ``variables`` (Liberty names) with their ``indices``."""

    variables: tuple
    indices: tuple
    values: np.ndarray

    def lookup(self, **point):
        """The value at ``point`` (keyword per variable: ``input_transition_time`` in ns,
        ``total_output_net_capacitance`` in pF), bilinear, extrapolated linearly outside."""
        values = self.values
        for name, index in zip(self.variables, self.indices):
            if name not in point:
                raise ValueError(f"table over {self.variables} needs {name}")
            values = _interpolate(values, index, float(point[name]))  # consumes axis 0
        return float(values)


def _interpolate(values, index, x):
    """Linear interpolation of ``values`` along its first axis at ``x``."""
    if len(index) == 1:
        return values[0]
    i = int(np.clip(np.searchsorted(index, x) - 1, 0, len(index) - 2))
    t = (x - index[i]) / (index[i + 1] - index[i])
    return values[i] + t * (values[i + 1] - values[i])


@dataclass(frozen=True)
class Arc:
    """One ``internal_power`` group of a pin: energy per rising and falling transition (pJ);
    None where the library gives no table for that edge."""

    pin: str
    related_pin: str
    rise: Table
    fall: Table


@dataclass(frozen=True)
class Pin:
    name: str
    direction: str
    capacitance: float  # pF
    function: str = None
    clock: bool = False


@dataclass(frozen=True)
class Cell:
    name: str
    area: float  # µm²
    leakage: float  # nW
    pins: dict
    arcs: tuple
    sequential: bool


class Library:
    """The cells of one Liberty library, by name."""

    def __init__(self, name, cells, units, nominal_voltage):
        self.name, self.cells, self.units = name, cells, units
        self.nominal_voltage = nominal_voltage  # V; None when the file states none

    def __getitem__(self, name):
        if name not in self.cells:
            raise KeyError(f"cell {name!r} is not in library {self.name}; it has "
                           f"{', '.join(sorted(self.cells))}")
        return self.cells[name]


def _table(group, templates):
    template = templates[str(group.args[0]).strip('"')]
    indices = tuple(_floats(group.get(key)) for key in ("index_1", "index_2")
                    if group.get(key) is not None)
    values = _floats(group["values"])
    variables = template[:len(indices)]
    if values.ndim == 1 and len(indices) == 2:
        values = values.reshape(len(indices[0]), len(indices[1]))
    return Table(tuple(variables), indices, values)


def load_library(path=OSU018_LIBERTY):
    """Parse a Liberty file; a clear error when it is missing or not Liberty."""
    from liberty.parser import parse_liberty

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Liberty file {path} not found; make deps extracts Debian's "
                                f"qflow-tech-osu018 there (scripts/install-system-deps.sh)")
    try:
        library = parse_liberty(path.read_text())
    except Exception as error:  # the parser raises its own types
        raise ValueError(f"{path} is not a Liberty library: {error}") from None
    templates = {}
    for kind in ("power_lut_template", "lu_table_template"):
        for group in library.get_groups(kind):
            templates[str(group.args[0]).strip('"')] = tuple(
                str(group.get(key)).strip('"') for key in ("variable_1", "variable_2", "variable_3")
                if group.get(key) is not None)
    cells = {}
    for group in library.get_groups("cell"):
        name = str(group.args[0]).strip('"')
        pins, arcs = {}, []
        for pin in group.get_groups("pin"):
            pin_name = str(pin.args[0]).strip('"')
            function = pin.get("function")
            pins[pin_name] = Pin(pin_name, str(pin["direction"]).strip('"'),
                                 float(pin.get("capacitance", 0.0)),
                                 str(function).strip('"') if function is not None else None,
                                 str(pin.get("clock", "false")).strip('"') == "true")
            for power in pin.get_groups("internal_power"):
                tables = {g.group_name: _table(g, templates) for g in power.groups}
                related = power.get("related_pin")
                # A group may give one "power" table for both edges, or only one edge.
                arcs.append(Arc(pin_name, str(related).strip('"') if related else pin_name,
                                tables.get("rise_power", tables.get("power")),
                                tables.get("fall_power", tables.get("power"))))
        cells[name] = Cell(name, float(group["area"]), float(group.get("cell_leakage_power", 0)),
                           pins, tuple(arcs),
                           bool(group.get_groups("ff")) or bool(group.get_groups("latch")))
    units = {key: str(library.get(key)).strip('"') for key in
             ("time_unit", "voltage_unit", "leakage_power_unit", "capacitive_load_unit")}
    voltage = library.get("nom_voltage")
    return Library(str(library.args[0]).strip('"'), cells, units,
                   None if voltage is None else float(voltage))
