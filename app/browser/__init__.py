"""The imperative shell: the only package that touches ``js``, ``pyscript`` and the DOM."""
