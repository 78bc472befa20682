"""Step scripts: the one generator (:mod:`.scripts`), the runtime every script carries
(:mod:`.step_runtime`) and the one value transport (:mod:`.transport`) that every engine uses
for what crosses a step boundary.
"""
