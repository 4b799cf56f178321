"""Pure renderers: HTML and text tables, the stage graph (graphviz) and charts (matplotlib).

Nothing here asks the engine: every function draws values it is given.
"""
