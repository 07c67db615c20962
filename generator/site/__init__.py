"""The site layer: the model rendered as pages — markdown, certificate views, rendering."""
