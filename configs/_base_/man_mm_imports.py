# Import man_mm so that configs can name its components as 'man_mm.X'.
custom_imports = dict(
    imports=['man_mm.models', 'man_mm.engine', 'man_mm.datasets'],
    allow_failed_imports=False)
