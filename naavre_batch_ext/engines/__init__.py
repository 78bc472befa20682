"""Engines that run the step scripts and judge the result: the local runner (notebook and
workflow contexts, :mod:`.runner`), cwltool (:mod:`.cwl_runner`), an Argo server
(:mod:`.cluster`, :mod:`.cluster_client`), and the comparison of results (:mod:`.compare`,
:mod:`.preview`).
"""
