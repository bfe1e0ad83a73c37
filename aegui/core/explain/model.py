"""What the model's parts mean: the input, the preset, the family, the code, the layers, the decoder,
attention and capsules (the builder's Architecture, layer tables, Attention and Capsules boxes)."""
from __future__ import annotations

from .base import ATTENTION, BIASES, CAPSULE, CONVOLUTIONAL, HIDDEN, INTRO, OTHER, SPARSE, TRAINING
from .base import Explanation as E

ARCHITECTURE: dict[str, E] = {
    "preset": E(
        "A ready-made model for one idea of the tutorial, fitted to the loaded data. Pick one, then change "
        "anything you like.",
        "Each preset is one of the tutorial's variants, set up to train well on the built-in data in a minute "
        "or two: ae (plain), deep, stacked, sparse-l1 and sparse-kl, denoising, contractive, vae and beta-vae, "
        "conv, conv-vae, conv-denoising, aae, attention and capsule. Picking one replaces the whole model; "
        "Edit > Undo brings the previous one back.\n\n"
        "Once you change a preset, its description says it was edited: what the preset promises, and the "
        "reference band on the loss plot, hold for its stock settings only. (blank) starts from one hidden "
        "layer of 128 units and a 32-unit code.",
        None, "Preset"),
    "input": E(
        "What one sample is, as the loaded data says: an image (channels x height x width), a vector of "
        "features, or a sequence (steps x channels).",
        "The input is not chosen here: it follows the data loaded in the Data panel, and a preset picked from "
        "the list is fitted to it. A 1x28x28 digit is 784 values; the encoder's first layer sees all of them, "
        "and the decoder's output layer must give every one of them back.\n\n"
        "A model made for one input cannot train on another. When the data and the model disagree, Train says "
        "why and waits; picking a preset (or File > New) fits the model to the data.",
        INTRO, "Input"),
    "family": E(
        "How the encoder and decoder are built: mlp (fully connected), conv (convolutions), attention "
        "(a transformer over patches) or capsule (routing by agreement).",
        "The family decides what a layer is. An mlp connects every input value to every unit and ignores where "
        "a pixel sits; conv slides small kernels over the picture, so a stroke is recognised wherever it is; "
        "attention cuts the input into patches (tokens) that look at one another; capsule groups units into "
        "vectors whose length says whether a part is present.\n\n"
        "Switching family keeps the number of encoder layers and gives each the width its new family reads. "
        "The objective (sparsity, noise, VAE and the rest) works with every family.",
        OTHER),
    "family=mlp": E(
        "Every unit sees every input value. Simple and fast, but it knows nothing of which pixels are "
        "neighbours.",
        "The plain autoencoder of the tutorial: each layer is a matrix of weights plus a bias, followed by an "
        "activation. On images, each first-layer unit's weights form a picture: the filters the Weights panel "
        "shows. An mlp must learn a stroke separately at every position, so on images it needs more parameters "
        "than a conv net for the same quality; it suits vectors and tables, trains fastest, and is the only "
        "family with tied weights and greedy layer-wise pretraining.",
        INTRO, "mlp: fully connected"),
    "family=conv": E(
        "Small kernels slide over the image or sequence, so a pattern is found wherever it is. The tutorial's "
        "choice for images.",
        "A convolutional autoencoder shares each kernel's weights across all positions: a 3x3 kernel has 9 "
        "weights per pair of channels however large the picture. Strides of 2 halve the feature map layer by "
        "layer in the encoder, and the decoder's transposed convolutions grow it back. The tutorial calls this "
        "family well suited to grid-structured data such as images, where neighbouring pixels belong together, "
        "and to denoising, where local structure tells noise from strokes.\n\n"
        "Watch the Weights panel: the first layer's kernels become small edge and blob detectors. Compare the "
        "Summary's parameter count with an mlp's of similar quality.",
        CONVOLUTIONAL, "conv: convolutional"),
    "family=attention": E(
        "The input is cut into patches (tokens) that attend to one another in transformer blocks; a pooling "
        "step turns them into the code.",
        "Attention lets the encoder decide which parts of the input matter for the code. Images become patches "
        "of patch size x patch size pixels, sequences runs of time steps; in each block every token looks at "
        "every other through several heads. The decoder expands the code into memory tokens that each output "
        "patch attends to.\n\n"
        "The tutorial brings attention in for sequences, where some parts of the input matter more than "
        "others. The Attention / capsules panel shows which patches the code attends to: on digits, look for "
        "the weight on the strokes rather than on the empty border.",
        ATTENTION, "attention: a transformer over patches"),
    "family=capsule": E(
        "Groups of units (capsules) stand for parts: a capsule's length says how present its part is, its "
        "direction how the part looks.",
        "Conv layers find local features; primary capsules group them into small vectors, and routing by "
        "agreement sends each to the latent capsules whose predictions agree with it. The code is the latent "
        "capsules' poses side by side, so its size is latent capsules x latent capsule size. A small fully "
        "connected decoder rebuilds the input from them.\n\n"
        "The tutorial says capsules capture how parts make up objects, which helps with variations and "
        "deformations. The Attention / capsules panel shows each latent capsule's length per sample: watch whether "
        "different digits come to use different capsules.",
        CAPSULE, "capsule: routing by agreement"),
    "latent.dim": E(
        "How many numbers the encoder squeezes each sample into: the bottleneck. Smaller codes compress harder "
        "and keep less detail.",
        "The code (the latent representation) is all the decoder gets, so its size sets how much of a sample "
        "can pass through. A digit of 784 pixels through a code of 32 must be described by its shape, not "
        "copied pixel by pixel: that pressure is what makes an autoencoder learn features. Too small a code "
        "gives blurred, averaged outputs; a code as large as the input lets a plain autoencoder come close to "
        "copying, unless sparsity, noise or a VAE's KL term holds it back.\n\n"
        "A code of 2 is drawn as it is on the Latent space map. For a capsule model the code size follows from "
        "the capsules and is set there.",
        INTRO),
    "latent.activation": E(
        "The function applied to the code itself. Linear for a VAE; sigmoid for KL sparsity, which needs "
        "values between 0 and 1.",
        "A linear code can take any value, which suits plain autoencoders and a VAE (it samples its code from "
        "a gaussian, so the builder requires linear there). A relu code is zero or positive, which suits L1 "
        "sparsity: a unit the penalty switches off sits exactly at zero. KL sparsity compares each unit's mean "
        "activation with a target rate ρ between 0 and 1, so it needs sigmoid units.",
        SPARSE),
    "latent.bias": E(
        "Give the code layer a bias: an offset each code unit has before any input.",
        "A bias shifts a unit's output whatever the input. The tutorial stresses that biases let a network "
        "capture average values; in the code, the bias sets where codes sit when the input says little. "
        "Without it, the code of an all-zero input is forced towards the origin. For a capsule model it is the "
        "primary capsules' bias.",
        BIASES),
    "latent.bias_init": E(
        "The code bias's value before training starts. 0 is the usual choice.",
        "Training moves the bias from here. The tutorial notes that how biases are initialised can change how "
        "fast and how well a model converges; a start far from zero pushes every code off-centre, and the "
        "first epochs are spent undoing it.",
        BIASES),
    "likelihood": E(
        "How the reconstruction error is measured: bernoulli (binary cross-entropy) for values in 0..1 such "
        "as images, gaussian (squared error) for anything else.",
        "The loss is the negative log-likelihood of the input under the decoder's output. With bernoulli, the "
        "decoder's outputs are logits that a sigmoid turns into intensities, and the loss is binary "
        "cross-entropy; the data must lie in 0..1. With gaussian, the output is the value itself and the loss "
        "is the squared error, which suits standardised tables and signals.\n\n"
        "Either way the error is summed over a sample's values and averaged over the batch, so the numbers on "
        "the loss plot grow with the input's size: 784 pixels give larger losses than 10 features.",
        TRAINING),
    "likelihood=bernoulli": E(
        "For values in 0..1 such as grey images: the output passes through a sigmoid and the loss is binary "
        "cross-entropy.",
        "Each value is treated as the probability that a pixel is on. It gives sharp reconstructions of "
        "nearly black-and-white data such as digits, and is refused for data outside 0..1 (the builder then "
        "suggests gaussian). The output bias is a logit here: 0 means 0.5 grey.",
        TRAINING, "bernoulli: binary cross-entropy"),
    "likelihood=gaussian": E(
        "For any real values: the output is the value itself and the loss is the squared error.",
        "The usual loss for standardised tables, signals and images outside 0..1, and the one the tutorial's "
        "example uses (the mean squared error between input and reconstruction). On digits it gives slightly "
        "blurrier outputs than bernoulli.",
        TRAINING, "gaussian: squared error"),
    "decoder.mirror": E(
        "The decoder undoes the encoder's layers in reverse order. Untick it to design the decoder's layers "
        "yourself.",
        "Most autoencoders are symmetric: an encoder 784-256-32 gets a decoder 32-256-784, and a conv "
        "encoder's strides become the decoder's transposed convolutions. Unticking starts an explicit decoder "
        "table from the mirror's layers, to change as you like (a lighter decoder, say, so the code must carry "
        "more). The output layer is always added after the listed layers, so it always matches the input. "
        "Attention and capsule models have decoders of their own.",
        HIDDEN),
    "decoder.tied_weights": E(
        "The decoder reuses the encoder's weight matrices, transposed, instead of learning its own: about half "
        "the parameters.",
        "Tying is a classic regulariser for mlp autoencoders: the decoder cannot drift away from what the "
        "encoder learned, and there are about half as many weights to fit, which helps when data is scarce. "
        "Each layer keeps its own bias. It needs an mlp with a mirrored decoder and no batch norm.",
        HIDDEN),
    "decoder.output_bias": E(
        "A bias on each output value. Trained, it comes to hold the data's mean: the picture the decoder "
        "starts from before any code is added.",
        "The tutorial's note on biases says they let a model capture the mean values of the data. The output "
        "bias is where that shows most clearly: for an mlp on digits the Weights panel draws it as an image, "
        "and after training it looks like an average digit (through the sigmoid, for the bernoulli "
        "likelihood). Without it the decoder must build the mean from the code, which costs capacity.\n\n"
        "The biases experiment trains the same model with and without biases, and measures what changes.",
        BIASES),
    "decoder.output_bias_init": E(
        "The output bias's value before training starts. 0 starts every output in the middle; the data's mean "
        "starts the decoder from the average sample.",
        "For the bernoulli likelihood the bias is a logit: 0 starts every pixel at 0.5 grey, and -2 near "
        "black (0.12). Starting at the data's mean saves the first part of training, when a model started at "
        "zero learns little more than the average picture. The tutorial notes that bias initialisation "
        "affects convergence: the first epoch of the loss plot shows by how much.",
        BIASES),
}

LAYERS: dict[str, E] = {
    "encoder.layers": E(
        "The hidden layers between the input and the code, one row each. More layers learn a hierarchy of "
        "features, at the cost of time and a risk of overfitting.",
        "Each row is one layer: its width, its kernel and stride (conv and capsule models), activation, bias, "
        "batch norm and dropout. The code layer follows the last row, and the decoder mirrors the rows unless "
        "told otherwise.\n\n"
        "The tutorial's section on hidden layers says deeper autoencoders learn more abstract, hierarchical "
        "features and can generalise better, but need more computation and overfit more easily on little "
        "data. Watch the gap between the training and validation curves on the loss plot: a gap that widens "
        "with depth is overfitting, which dropout or weight decay narrow. The hidden layers experiment "
        "compares a shallow and a deep model at equal code size.",
        HIDDEN, "Encoder layers"),
    "decoder.layers": E(
        "The decoder's own hidden layers, from the code towards the output, when it does not mirror the "
        "encoder.",
        "Rows are in the order data flows: the first takes the code. The output layer is added after the last "
        "row and always matches the input's size. In a conv decoder each stride multiplies the feature map's "
        "size, and together the strides must bring it back to the input's size: the builder says when they "
        "do not.\n\n"
        "A decoder much weaker than the encoder makes the code carry the information itself; a much stronger "
        "one can reconstruct well from a code that says little, and a VAE's posterior collapse is the extreme "
        "of that.",
        HIDDEN, "Decoder layers"),
    "layers[].units": E(
        "Units of an mlp layer, or the token width of an attention model's transformer block.",
        "A wider layer can hold more features at once and adds parameters (inputs x width weights for an mlp "
        "layer). Autoencoders usually narrow from the input to the code (784-256-32), so each layer summarises "
        "the one before. In an attention model every block has the same token width, which must divide evenly "
        "by the heads.",
        HIDDEN),
    "layers[].channels": E(
        "Channels of a conv layer: how many different kernels it learns, each giving one feature map.",
        "Each channel is one learned pattern detector, applied at every position. Conv encoders usually add "
        "channels as the strides shrink the map (32, then 64), keeping the amount of information per layer "
        "similar. A conv layer has kernel x kernel x channels in x channels out weights, however large the "
        "image.",
        CONVOLUTIONAL),
    "layers[].kernel": E(
        "The size of a conv kernel: how many neighbouring pixels (or steps) one output looks at.",
        "3 is the usual choice; 5 or 7 see more at once, with more weights. A kernel larger than the feature "
        "map it gets is refused, and in an explicit decoder a stride-1 layer needs an odd kernel to keep its "
        "size. mlp and attention layers have no kernel.",
        CONVOLUTIONAL),
    "layers[].stride": E(
        "How far a conv kernel moves between outputs: 2 halves the feature map, 1 keeps its size.",
        "Strided convolutions shrink the picture as the encoder goes deeper, so later layers see larger "
        "regions and the code is small; the mirrored decoder grows it back by the same strides. Two stride-2 "
        "layers take a 28x28 digit to 7x7.",
        CONVOLUTIONAL),
    "layers[].activation": E(
        "The non-linearity after this layer. relu is the usual choice for hidden layers.",
        "Without a non-linearity, stacked layers collapse into one linear map, and the autoencoder can learn "
        "no more than PCA does. The activation lets each layer bend what it passes on, which is what lets "
        "depth build a hierarchy of features.",
        HIDDEN),
    "layers[].bias": E(
        "Give this layer a bias: an offset each unit has before any input. The tutorial says biases let a "
        "model capture the data's mean.",
        "From the tutorial: a bias shifts a unit's output, lets it activate even when its weighted inputs "
        "alone would not, and lets the network represent average values such as an image's mean intensity. "
        "Without biases, every layer gives zero for a zero input, and the network must spend weights to "
        "produce offsets. With batch norm a layer's bias adds nothing: the norm has a shift of its own.",
        BIASES),
    "layers[].bias_init": E(
        "The bias's value when training starts. 0 is the usual choice.",
        "The tutorial: biases are usually initialised to small values, and the choice can change how fast and "
        "how well a model converges. A small positive start keeps relu units active at first (fewer dead "
        "units); a large one puts every unit far from where the data needs it.",
        BIASES),
    "layers[].batch_norm": E(
        "Normalise this layer's outputs over each batch to zero mean and unit variance, then rescale them "
        "with learned parameters.",
        "Batch norm keeps each layer's input on a steady scale while the weights change, which often allows a "
        "higher learning rate and faster training. While training, a sample's output then depends a little "
        "on the rest of its batch; evaluation uses running averages instead. It cannot be combined with tied "
        "weights.",
        TRAINING),
    "layers[].dropout": E(
        "The fraction of this layer's outputs zeroed at random while training: a regulariser against "
        "overfitting, off at evaluation.",
        "Dropout stops the network from relying on any single unit, so features become redundant and robust. "
        "The tutorial names dropout, with weight decay, as the remedy when a deep autoencoder overfits. Too "
        "much slows learning and blurs the reconstructions.",
        HIDDEN),
}

# The activations the code and the layers choose from share one set of entries ("activation=...").
ACTIVATIONS: dict[str, E] = {
    "activation=relu": E(
        "max(0, x): zero for negative inputs, the input itself otherwise. The usual choice for hidden layers.",
        "Cheap, and it trains well in deep networks because its gradient does not shrink for positive "
        "inputs. A unit whose input stays negative gives zero for good: a dead unit, which the Sparsity panel "
        "counts.",
        None, "relu"),
    "activation=leaky_relu": E(
        "Like relu, but negative inputs keep a small slope (0.2 x), so a unit never goes fully dead.",
        "Useful when many relu units die, after a high learning rate or under a strong L1 penalty. The "
        "adversarial autoencoder's discriminator uses it.",
        None, "leaky_relu"),
    "activation=elu": E(
        "Smooth: x for positive inputs, e^x - 1 for negative ones, so outputs can dip to -1.",
        "Its outputs average closer to zero than relu's, which can speed training up a little, and it has no "
        "dead units.",
        None, "elu"),
    "activation=gelu": E(
        "A smooth relu, the one transformers use: small negative inputs pass a little, large negative ones "
        "not at all.",
        "The usual choice inside attention blocks. Elsewhere it behaves much like relu at a slightly higher "
        "cost.",
        None, "gelu"),
    "activation=sigmoid": E(
        "Squashes any input into 0..1. KL sparsity needs it: a unit's mean activation is compared with ρ.",
        "It saturates at both ends, where its gradient is tiny, so deep stacks of sigmoids train slowly. As "
        "a code activation it makes 'active' mean above 0.5, so the Sparsity panel's active share matches a "
        "target rate.",
        SPARSE, "sigmoid"),
    "activation=tanh": E(
        "Squashes any input into -1..1, centred on zero.",
        "Like a sigmoid stretched to -1..1: its outputs average near zero, which the next layer prefers, but "
        "it saturates just the same.",
        None, "tanh"),
    "activation=linear": E(
        "No function: the output is the weighted sum plus the bias. The code of a VAE must be linear.",
        "A stack of linear layers is no more than one linear map; an autoencoder that is linear throughout "
        "and trained on squared error finds the same subspace as PCA. That is why hidden layers want a "
        "non-linearity, and the code usually does not.",
        None, "linear"),
}

ATTENTION_PARTS: dict[str, E] = {
    "attention.patch_size": E(
        "Tokens are patches this many pixels wide (or this many time steps). The patch must tile the input "
        "exactly.",
        "A 28x28 digit cut into patches of 7 becomes 16 tokens of 49 pixels. Smaller patches give more "
        "tokens, finer attention maps and a slower model: attention's cost grows with the square of the "
        "number of tokens. For a sequence a token is this many consecutive steps; for a vector, this many "
        "features.",
        ATTENTION),
    "attention.heads": E(
        "How many separate attention patterns each block computes. The token width must divide evenly by "
        "the heads.",
        "Each head attends with its own queries and keys over a slice of the token width, so one head can "
        "follow strokes while another follows position. More heads are not more parameters, only more, "
        "narrower views. The Attention / capsules panel shows the attention averaged over the heads.",
        ATTENTION),
    "attention.pool": E(
        "How the tokens become one code: cross lets a learned query attend over them; mean averages them.",
        "With cross pooling, one learned query looks at every token and takes a weighted mix of them; those "
        "weights are what the Attention / capsules panel draws, so you see which patches the code is made of. Mean "
        "pooling counts every token alike; the panel then shows how much the last block's tokens attend to "
        "each patch.",
        ATTENTION),
    "attention.pool=cross": E(
        "One learned query attends over the tokens; its weights say which patches the code is made of.",
        "The code is a mix of the tokens, weighted by how well each matches the query, so it can leave empty "
        "background patches out entirely: the tutorial's point that attention focuses on the parts that "
        "matter.",
        ATTENTION, "cross: a learned query"),
    "attention.pool=mean": E(
        "The code is made from the average token: every patch counts the same.",
        "Simpler and a little faster than cross pooling, with no weights of its own. Blank patches weigh as "
        "much as the strokes, so the blocks before it must spread the information over every token.",
        ATTENTION, "mean: the average token"),
    "attention.decoder_blocks": E(
        "Transformer blocks in the decoder, where each output patch attends to memory tokens made from the "
        "code.",
        "More blocks let the decoder refine its output in several rounds of attention, at the cost of "
        "parameters and time. One is often enough for digits.",
        ATTENTION),
    "attention.memory_tokens": E(
        "How many tokens the decoder makes from the code for the output patches to attend to.",
        "The code is expanded into this many memory tokens of the token width, and each output patch's query "
        "attends to them. More memory tokens let different parts of the output draw on different parts of "
        "the code.",
        ATTENTION),
}

CAPSULES: dict[str, E] = {
    "capsule.primary_channels": E(
        "How many kinds of primary capsule the conv features are grouped into, at each position of the "
        "feature map.",
        "The primary capsule layer is a convolution whose outputs are cut into vectors: each kind gives one "
        "capsule at every position, often hundreds in all, and each votes for every latent capsule. More "
        "kinds can describe more kinds of parts, and make routing slower.",
        CAPSULE),
    "capsule.primary_dim": E(
        "The length of each primary capsule's vector: how many numbers describe one detected part.",
        "A capsule's direction describes how its part looks (slant, thickness, position) and its length, "
        "squashed into 0..1, how sure the layer is that the part is there. Longer vectors can describe more, "
        "with more weights in the routing.",
        CAPSULE),
    "capsule.primary_kernel": E(
        "The kernel size of the convolution that makes the primary capsules.",
        "It is applied to the encoder's last feature map, and a kernel larger than that map is refused. A "
        "larger kernel lets each primary capsule see a larger part of the input.",
        CAPSULE),
    "capsule.primary_stride": E(
        "The stride of the primary capsules' convolution: 2 halves the map, leaving a quarter as many "
        "primary capsules.",
        "Fewer primary capsules make routing faster, since each votes for every latent capsule, at the cost "
        "of spatial detail.",
        CAPSULE),
    "capsule.num_capsules": E(
        "How many latent capsules the primary capsules are routed to. With the latent capsule size it sets "
        "the code size.",
        "Each latent capsule can come to stand for one kind of whole, such as a digit's shape. The code is "
        "their poses side by side: latent capsules x latent capsule size numbers. The Attention / capsules panel draws "
        "each one's length, how present it is, for each sample.",
        CAPSULE),
    "capsule.capsule_dim": E(
        "The length of each latent capsule's pose vector.",
        "Its direction describes the whole the capsule stands for (for a digit: slant, width, stroke) and its "
        "length how present that whole is. The code holds latent capsules x this many numbers.",
        CAPSULE),
    "capsule.routing_iterations": E(
        "Rounds of routing by agreement: each round sends the primary capsules' votes more to the latent "
        "capsules they agree with.",
        "In the first round every primary capsule votes equally for every latent capsule; each further round "
        "raises the weight of the votes that agree with the capsule they produced. Three is usual; more "
        "rounds cost time and rarely change much. The tutorial says capsules capture part-whole hierarchies: "
        "routing is how parts find their wholes.",
        CAPSULE),
    "capsule.decoder_units": E(
        "Widths of the capsule decoder's hidden layers, from the capsule poses to the output, as a list such "
        "as 256, 512.",
        "A capsule autoencoder decodes with a small fully connected network: the latent capsules' poses, side "
        "by side, pass through these layers and then an output layer the size of the input. Wider layers "
        "rebuild more detail and add parameters.",
        CAPSULE, "Decoder widths"),
}
