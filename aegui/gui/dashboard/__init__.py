"""The training dashboard's parts, each a widget with clear()/draw(report)."""
