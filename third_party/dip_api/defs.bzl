"""dip_schemas: runs convert.py over the vendored DIP spec at build time."""

def _dip_schemas_impl(ctx):
    out = ctx.actions.declare_directory(ctx.attr.name)
    ctx.actions.run(
        executable = "/usr/bin/python3",
        arguments = [ctx.file.converter.path, "--spec", ctx.file.converter.dirname, "--out", out.path],
        inputs = ctx.files.spec + [ctx.file.converter],
        outputs = [out],
        mnemonic = "DipSchemas",
        progress_message = "Converting the DIP OpenAPI spec to JSON Schema",
    )
    return [DefaultInfo(files = depset([out]), runfiles = ctx.runfiles(files = [out]))]

dip_schemas = rule(
    implementation = _dip_schemas_impl,
    attrs = {
        "spec": attr.label_list(allow_files = [".yaml"]),
        "converter": attr.label(allow_single_file = [".py"]),
    },
)
