"""``mrtoct serve``: both workflows in a browser, as a trame-slicer app over the Slicer modules' MRML layer."""
