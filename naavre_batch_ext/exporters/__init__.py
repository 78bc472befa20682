"""Exporters (as nbconvert groups them): the spec and its step scripts as an Argo Workflow
(:mod:`.argo`, options checked by :mod:`.k8s_options`), a CWL v1.2 workflow (:mod:`.cwl`), or
the spec itself; :mod:`.export` chooses the format and writes files without clobbering.
"""
