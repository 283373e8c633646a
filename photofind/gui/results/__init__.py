"""The results side of the window: the grid's model, view and thumbnails, and the pane around them."""
