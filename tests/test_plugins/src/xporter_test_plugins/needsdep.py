"""A plugin whose declared dependency is not installed: it must be listed as unavailable."""

from xporter import BackendInfo, hookimpl


@hookimpl
def xporter_backend_info():
    return BackendInfo(description="needs a package nobody has", requires=("xporter_no_such_module_42",),
                       install_hint="pip install xporter-needsdep-extra")


@hookimpl
def xporter_register_configs(register, backend):
    raise AssertionError("must not be called when a dependency is missing")
