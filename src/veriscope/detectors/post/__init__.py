"""The ``post`` family: checks of a post's caption against the picture (docs/posts.md).

They run only when the input comes with a post (``Context.post``) and stay out of the image
verdict: their evidence goes to the report's ``post`` object (:func:`veriscope.core.post.summarize`).
"""
