"""The family-specific parts of the generated ``model.py``: helper classes, ``__init__`` and ``encode``/``decode``.

Each family's writer walks the app's model, built from the spec, and writes plain ``torch.nn``
code with the same structure and attribute names, so the generated module's ``state_dict``
has exactly the app's keys and the run's weights load into it with ``strict=True``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .common import ExportError
from .layers import INDENT, call, container, layer

D = 2  # the depth of a statement inside a method

DENSE = '''
class Dense(nn.Module):
    """A fully connected layer, then its tail: [batch norm,] activation[, dropout]."""

    def __init__(self, linear, *tail):
        super().__init__()
        self.linear = linear
        self.tail = nn.Sequential(*tail)

    def forward(self, x):
        return self.tail(self.linear(x))
'''

TIED = '''
class TiedLinear(nn.Module):
    """A decoder layer that reuses the transpose of an encoder layer's weight; only its bias is its own."""

    def __init__(self, source, bias=True):
        super().__init__()
        self.source = [source]  # a list, so the shared layer is not registered (or saved) twice
        self.bias = nn.Parameter(torch.zeros(source.in_features)) if bias else None

    def forward(self, x):
        return F.linear(x, self.source[0].weight.t(), self.bias)
'''

HEAD = '''
class CodeHead(nn.Module):
    """Features -> code: a linear layer and the code's activation."""

    def __init__(self, mu, activation):
        super().__init__()
        self.mu = mu
        self.activation = activation

    def forward(self, features):
        return self.activation(self.mu(features))
'''

VARIATIONAL_HEAD = '''
class CodeHead(nn.Module):
    """Features -> the posterior's mean and log-variance. The code is the mean: no sampling here."""

    def __init__(self, mu, logvar):
        super().__init__()
        self.mu = mu
        self.logvar = logvar

    def forward(self, features):
        return self.mu(features)

    def posterior(self, features):
        """(mean, log-variance), the log-variance clamped to -12..8 as in training."""
        return self.mu(features), self.logvar(features).clamp(-12.0, 8.0)
'''

TRANSFORMER = '''
class TransformerBlock(nn.Module):
    """Pre-norm attention, then a pre-norm MLP, each added to its input. A block with ``norm_kv``
    lets its queries attend to a separate memory (cross-attention)."""

    def __init__(self, norm_q, attn, norm_mlp, mlp, norm_kv=None):
        super().__init__()
        self.norm_q = norm_q
        self.norm_kv = norm_kv
        self.attn = attn
        self.norm_mlp = norm_mlp
        self.mlp = mlp

    def forward(self, x, memory=None):
        q = self.norm_q(x)
        kv = q if memory is None else self.norm_kv(memory)
        x = x + self.attn(q, kv, kv, need_weights=False)[0]
        return x + self.mlp(self.norm_mlp(x))
'''

SQUASH = '''
def squash(s, dim=-1, eps=1e-8):
    """Shrink a vector's length into 0-1 while keeping its direction."""
    norm_sq = (s * s).sum(dim=dim, keepdim=True)
    return s * (norm_sq / (1.0 + norm_sq)) / torch.sqrt(norm_sq + eps)
'''


@dataclass
class FamilyCode:
    helpers: list[str] = field(default_factory=list)  # module-level classes and functions
    init: list[str] = field(default_factory=list)  # statements of Autoencoder.__init__
    methods: str = ""  # encode and decode_logits (and posterior for variational models)


def _assign(name: str, expression: str) -> str:
    return f"self.{name} = {expression}"


def _head(model, code: FamilyCode, features: str) -> None:
    head = model.head
    if head.variational:
        code.helpers.append(VARIATIONAL_HEAD)
        args = [("mu", layer(head.mu, D + 1)), ("logvar", layer(head.logvar, D + 1))]
    else:
        code.helpers.append(HEAD)
        args = [("mu", layer(head.mu, D + 1)), ("activation", layer(head.activation, D + 1))]
    code.init.append(_assign("head", call("CodeHead", args, D)))
    if head.variational:
        code.methods += f'''
    def posterior(self, x):
        """(mean, log-variance) of the code for a batch; ``encode`` gives the mean."""
        return self.head.posterior({features})
'''


def _parameter(name: str, shape) -> str:
    dims = ", ".join(str(int(s)) for s in shape)
    return _assign(name, f"nn.Parameter(torch.zeros({dims}))  # its values come from the weights file")


def mlp(model) -> FamilyCode:
    code = FamilyCode(helpers=[DENSE])
    names = {id(m): name for name, m in model.named_modules()}
    tied = any(type(m).__name__ == "TiedLinear" for m in model.modules())
    if tied:
        code.helpers.append(TIED)

    def linear_expr(module, depth: int) -> str:
        if type(module).__name__ == "TiedLinear":
            source = "self." + _attribute_path(names[id(module.source[0])])
            return f"TiedLinear({source}{'' if module.bias is not None else ', bias=False'})"
        return layer(module, depth)

    def dense(block, depth: int) -> str:
        parts = [linear_expr(block.linear, depth + 1)] + [layer(m, depth + 1) for m in block.tail]
        return container("Dense(", ")", parts, depth)

    code.init.append(_assign("encoder_blocks", container(
        "nn.ModuleList([", "])", [dense(b, D + 1) for b in model.encoder_blocks], D)))
    _head(model, code, "self.features(x)")
    code.init.append(_assign("decoder_blocks", container(
        "nn.ModuleList([", "])", [dense(b, D + 1) for b in model.decoder_blocks], D)))
    code.init.append(_assign("output", linear_expr(model.output, D)))
    code.methods = f'''
    def features(self, x):
        """The encoder's hidden layers; the code head reads their last output."""
        h = x.reshape(x.shape[0], -1)
        for block in self.encoder_blocks:
            h = block(h)
        return h

    def encode(self, x):
        return self.head(self.features(x))

    def decode_logits(self, code):
        h = code
        for block in self.decoder_blocks:
            h = block(h)
        return self.output(h).reshape(code.shape[0], *INPUT_SHAPE)
''' + code.methods
    return code


def _attribute_path(name: str) -> str:
    """``encoder_blocks.1.linear`` -> ``encoder_blocks[1].linear``."""
    out = ""
    for part in name.split("."):
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out


def conv(model) -> FamilyCode:
    code = FamilyCode()
    code.init.append(_assign("encoder", layer(model.encoder, D)))
    _head(model, code, "self.features(x)")
    code.init.append(_assign("expand", layer(model.expand, D)))
    code.init.append(_assign("decoder", layer(model.decoder, D)))
    code.init.append(_assign("output", layer(model.output, D)))
    shape = ", ".join(str(s) for s in model.feature_shape)
    to_channels = "\n        x = x.transpose(1, 2)  # (N, steps, channels) -> (N, channels, steps) for Conv1d" \
        if model.sequence else ""
    back = "out.transpose(1, 2)  # back to (N, steps, channels)" if model.sequence else "out"
    code.methods = f'''
    def features(self, x):
        """The conv encoder's feature maps, flattened."""{to_channels}
        return self.encoder(x).flatten(1)

    def encode(self, x):
        return self.head(self.features(x))

    def decode_logits(self, code):
        h = self.expand(code).reshape(code.shape[0], {shape})
        out = self.output(self.decoder(h))
        return {back}
''' + code.methods
    return code


def _transformer(block, depth: int) -> str:
    args = [("norm_q", layer(block.norm_q, depth + 1)), ("attn", layer(block.attn, depth + 1)),
            ("norm_mlp", layer(block.norm_mlp, depth + 1)), ("mlp", layer(block.mlp, depth + 1))]
    if block.norm_kv is not None:
        args.append(("norm_kv", layer(block.norm_kv, depth + 1)))
    return call("TransformerBlock", args, depth)


def _tokens(tok) -> str:
    if tok.kind == "image":
        c, h, w = tok.shape
        gh, gw = tok.grid
        p = tok.patch
        return f'''
def to_tokens(x):
    """({c}, {h}, {w}) images -> {tok.n_tokens} tokens of {tok.token_dim}: {p}x{p} patches, row by row."""
    n = x.shape[0]
    x = x.reshape(n, {c}, {gh}, {p}, {gw}, {p}).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(n, {tok.n_tokens}, {tok.token_dim})


def from_tokens(tokens):
    """The inverse of to_tokens: patches back into ({c}, {h}, {w}) images."""
    n = tokens.shape[0]
    x = tokens.reshape(n, {gh}, {gw}, {c}, {p}, {p}).permute(0, 3, 1, 4, 2, 5)
    return x.reshape(n, {c}, {h}, {w})
'''
    return f'''
def to_tokens(x):
    """Samples shaped {tuple(tok.shape)} -> {tok.n_tokens} tokens of {tok.token_dim} consecutive values."""
    return x.reshape(x.shape[0], {tok.n_tokens}, {tok.token_dim})


def from_tokens(tokens):
    return tokens.reshape(tokens.shape[0], *INPUT_SHAPE)
'''


def attention(model) -> FamilyCode:
    code = FamilyCode(helpers=[TRANSFORMER, _tokens(model.tokens)])
    code.init.append(_assign("embed", layer(model.embed, D)))
    code.init.append(_parameter("position", model.position.shape))
    code.init.append(_assign("blocks", container(
        "nn.ModuleList([", "])", [_transformer(b, D + 1) for b in model.blocks], D)))
    if model.pool_mode == "cross":
        code.init.append(_parameter("pool_query", model.pool_query.shape))
        code.init.append(_assign("pool", layer(model.pool, D)))
        pool = '''q = self.pool_query.expand(h.shape[0], -1, -1)  # one learned query attends over the tokens
        pooled = self.pool(q, h, h, need_weights=False)[0][:, 0]'''
    else:
        pool = "pooled = h.mean(dim=1)  # the tokens' mean"
    code.init.append(_assign("pool_norm", layer(model.pool_norm, D)))
    _head(model, code, "self.features(x)")
    code.init.append(_assign("to_memory", layer(model.to_memory, D)))
    code.init.append(_parameter("queries", model.queries.shape))
    code.init.append(_assign("decoder_blocks", container(
        "nn.ModuleList([", "])", [_transformer(b, D + 1) for b in model.decoder_blocks], D)))
    code.init.append(_assign("out_norm", layer(model.out_norm, D)))
    code.init.append(_assign("output", layer(model.output, D)))
    code.methods = f'''
    def features(self, x):
        """Tokens through the transformer blocks, pooled into one vector."""
        h = self.embed(to_tokens(x)) + self.position
        for block in self.blocks:
            h = block(h)
        {pool}
        return self.pool_norm(pooled)

    def encode(self, x):
        return self.head(self.features(x))

    def decode_logits(self, code):
        # The code becomes {model.memory_tokens} memory tokens; one query per output token attends to them.
        memory = self.to_memory(code).reshape(code.shape[0], {model.memory_tokens}, {model.width})
        h = self.queries.expand(code.shape[0], -1, -1)
        for block in self.decoder_blocks:
            h = block(h, memory)
        return from_tokens(self.output(self.out_norm(h)))
''' + code.methods
    return code


def capsule(model) -> FamilyCode:
    code = FamilyCode(helpers=[SQUASH])
    code.init.append(_assign("features", layer(model.features, D)))
    code.init.append(_assign("primary", layer(model.primary, D)))
    code.init.append("# One transformation matrix per (primary capsule, latent capsule) pair.")
    code.init.append(_parameter("route_weights", model.route_weights.shape))
    code.init.append(_assign("decoder", layer(model.decoder, D)))
    code.init.append(_assign("output", layer(model.output, D)))
    n, k, d, p, iterations = model.n_primary, model.n_caps, model.caps_dim, model.primary_dim, model.iterations
    code.methods = f'''
    def capsules(self, x):
        """The {k} latent capsules' pose vectors, (N, {k}, {d}); a capsule's length says how present it is."""
        n = x.shape[0]
        u = self.primary(self.features(x))  # (N, channels * {p}, h, w)
        u = u.reshape(n, -1, {p}, u.shape[-2] * u.shape[-1])
        u = squash(u.permute(0, 1, 3, 2).reshape(n, {n}, {p}))  # {n} primary capsules of {p}
        # Each primary capsule's prediction for each latent capsule: (N, {n}, {k}, {d}).
        u_hat = torch.einsum("nkdp,bnp->bnkd", self.route_weights, u)
        # Routing by agreement, {iterations} iterations: couplings follow how well predictions agree.
        logits = torch.zeros(n, {n}, {k}, dtype=u_hat.dtype, device=u_hat.device)
        for i in range({iterations}):
            coupling = torch.softmax(logits, dim=2)
            v = squash((coupling.unsqueeze(-1) * u_hat).sum(dim=1))
            if i < {iterations - 1}:
                logits = logits + (u_hat * v.unsqueeze(1)).sum(dim=-1)
        return v

    def encode(self, x):
        return self.capsules(x).reshape(x.shape[0], -1)

    def decode_logits(self, code):
        return self.output(self.decoder(code)).reshape(code.shape[0], *INPUT_SHAPE)
'''
    return code


WRITERS = {"mlp": mlp, "conv": conv, "attention": attention, "capsule": capsule}


def family_code(model, family: str) -> FamilyCode:
    if family not in WRITERS:
        raise ExportError(f"--python cannot write the {family} family yet")
    return WRITERS[family](model)


def indent_statements(statements: list[str]) -> str:
    return "".join(f"{INDENT * D}{s}\n" for s in statements)

