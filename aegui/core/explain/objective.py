"""What the objective's variants and terms mean: sparsity, denoising, VAE, contractive, AAE, stacked, and
each loss term the dashboard draws (the builder's Objective box, the loss plot's legend)."""
from __future__ import annotations

from .base import ADVERSARIAL, CONTRACTIVE, DENOISING, SPARSE, STACKED, TRAINING, VARIATIONAL
from .base import Explanation as E

SPARSITY: dict[str, E] = {
    "objective.sparsity.kind": E(
        "A penalty that keeps most code units quiet for most inputs: l1 penalises the code's size, kl pulls "
        "each unit's mean activation to a target rate ρ.",
        "A sparse autoencoder, in the tutorial's words, imposes a sparsity constraint so that most neurons "
        "stay inactive for most inputs, which gives more selective, robust and interpretable features. The "
        "penalty is added to the reconstruction loss, times the sparsity weight. With a sparse code even a "
        "large code (64 units or more) cannot simply copy the input: each sample must be described by a few "
        "active units.\n\n"
        "Watch the Sparsity panel: each unit's mean activation against ρ, the share of dead and active units "
        "over time, and the histogram of activations. The tutorial warns that too strong a constraint "
        "underfits (blurred reconstructions, many dead units) and too weak a one gives no sparsity.",
        SPARSE),
    "objective.sparsity.kind=none": E(
        "No sparsity penalty: the code may use all its units for every input.",
        "The plain autoencoder. Its units usually all respond a little to everything, and the Sparsity panel "
        "folds away.",
        None, "none"),
    "objective.sparsity.kind=l1": E(
        "Adds the sum of the code's absolute values, so units that do not help reconstruction are pushed to "
        "zero (exactly zero with relu).",
        "The L1 penalty grows with the size of every active unit, so the cheapest code has few units on. It "
        "pairs with relu codes, whose switched-off units sit exactly at zero. There is no target rate: the "
        "weight alone decides how sparse the code becomes.",
        SPARSE, "l1: penalise the activations"),
    "objective.sparsity.kind=kl": E(
        "Pulls each unit's average activation over a batch towards the target rate ρ, through the KL "
        "divergence between the two rates.",
        "The classic sparse autoencoder: a sigmoid unit with mean activation ρ̂ pays KL(ρ‖ρ̂), which is zero "
        "when ρ̂ equals ρ and grows steeply as ρ̂ nears 1. It controls how often each unit fires rather than "
        "how strongly, and needs sigmoid activations on the layer it watches.",
        SPARSE, "kl: a target rate ρ"),
    "objective.sparsity.weight": E(
        "How strongly the sparsity penalty counts against reconstruction. Can be changed while training.",
        "The total loss is reconstruction + weight x penalty. Too high, and the model gives up detail to keep "
        "its units quiet (the tutorial's underfitting warning); too low, and nothing becomes sparse. Because "
        "it is live, you can raise it during a run and watch the Sparsity panel's bars move towards ρ.",
        SPARSE),
    "objective.sparsity.target": E(
        "The average activation each unit should have under KL sparsity: 0.05 means on for about one input "
        "in twenty.",
        "ρ is a rate between 0 and 1. A unit whose average activation over the batch is above ρ is penalised, "
        "and so is one far below it. The red line in the Sparsity panel is ρ: in a healthy run most bars sit "
        "near it. Only KL sparsity uses it.",
        SPARSE),
    "objective.sparsity.layer": E(
        "Which layer the sparsity penalty watches: -1 is the code, 0 the first encoder layer, and so on.",
        "The code is the usual choice. Making a hidden layer sparse instead gives a wide, sparse layer of "
        "features before a small dense code, a common way to learn parts. KL sparsity needs that layer to use "
        "sigmoid.",
        SPARSE),
}

NOISE: dict[str, E] = {
    "objective.noise.kind": E(
        "Corrupt the inputs during training while the loss compares the output with the clean input: a "
        "denoising autoencoder.",
        "The tutorial's denoising autoencoder is trained to reconstruct clean data from noisy inputs, so it "
        "cannot just copy: it must learn what the data looks like to remove what does not belong. The noise "
        "is drawn afresh for every batch; validation uses the same noise every epoch, so its loss compares "
        "from epoch to epoch.\n\n"
        "The Reconstructions panel shows each input, its corrupted version and the output. In the Draw tab "
        "you can lay noise over a drawing of your own and watch a denoiser remove it. The tutorial warns that "
        "the noise's type and level must suit the data: too little teaches nothing, too much destroys the "
        "signal.",
        DENOISING),
    "objective.noise.kind=none": E(
        "No corruption: the model sees the clean input.",
        "A plain autoencoder, which may learn features that only work on clean data.",
        None, "none"),
    "objective.noise.kind=gaussian": E(
        "Adds normal noise whose standard deviation σ is the level times the data's range, clipped to the "
        "range.",
        "The most common corruption for images and signals: every value is disturbed a little. Levels of 0.2 "
        "to 0.5 suit digits.",
        DENOISING, "gaussian: added noise"),
    "objective.noise.kind=masking": E(
        "Sets a random fraction of the input's values (the level) to the lowest value, as if they were "
        "missing.",
        "Masking teaches the model to fill in missing parts from their context: the tutorial's missing "
        "elements. At 0.3, a third of each digit's pixels are blanked at random.",
        DENOISING, "masking: values dropped"),
    "objective.noise.kind=salt_pepper": E(
        "Sets a random fraction of the values (the level) to the lowest or the highest value, half each.",
        "Like specks of dust and dead pixels on a scan. The conv-denoising preset removes salt-and-pepper "
        "noise at 0.2.",
        DENOISING, "salt_pepper: black and white specks"),
    "objective.noise.level": E(
        "How strong the corruption is: σ as a share of the data's range for gaussian noise, the share of "
        "values hit otherwise. Can be changed while training.",
        "Raise it and the task gets harder: reconstructions of the training inputs get worse, while the "
        "features learned may become more robust. The denoising experiment measures how well plain and "
        "denoising models clean noisy validation digits at several levels, as PSNR. Because it is live, you "
        "can change it during a run.",
        DENOISING),
}

VARIATIONAL_PARTS: dict[str, E] = {
    "objective.variational.enabled": E(
        "Make the code a distribution: the encoder gives a mean and a variance per dimension, and a KL term "
        "keeps the codes close to a standard gaussian.",
        "The tutorial's variational autoencoder maps each input to a probability distribution in the latent "
        "space rather than a point, which allows generating new samples by drawing from it. In training the "
        "code is sampled from the encoder's gaussian, and its KL divergence from N(0, I) is added to the "
        "loss, times β. The result is a smooth, filled latent space: points near the origin decode to "
        "something plausible, so the Latent space tab's prior samples and interpolations look like data.\n\n"
        "Watch the VAE health panel: KL per dimension shows which dimensions carry information. A plain "
        "autoencoder's codes leave holes in the latent space, which is why its samples look like noise; the "
        "variational experiment compares the two on the shapes data.",
        VARIATIONAL),
    "objective.variational.beta": E(
        "The weight of the KL term: 1 is a standard VAE; above 1 (a β-VAE) trades detail for more independent "
        "factors. Can be changed while training.",
        "A larger β presses the codes harder towards the prior: reconstructions get blurrier, but each "
        "dimension tends to capture one factor of variation (on shapes: size, rotation, position), which the "
        "traversals in the Latent space tab show. Too large a β makes dimensions collapse: their KL drops to "
        "zero and they carry nothing. Below 1, reconstructions are sharper and the space less regular.",
        VARIATIONAL),
    "objective.variational.warmup_epochs": E(
        "β rises linearly from 0 to its value over this many epochs, so the model learns to reconstruct "
        "before the KL term presses on it.",
        "With the full KL term from the first step, every dimension can be pushed to the prior before the "
        "decoder learns to use it: posterior collapse. A warm-up of a few epochs avoids it, and the VAE health "
        "panel shows the KL growing as β rises. 0 turns it off.",
        VARIATIONAL),
    "objective.variational.free_bits": E(
        "Each dimension's KL counts as at least this many nats, so the optimiser gains nothing by squeezing a "
        "dimension below it.",
        "Another guard against posterior collapse: below the floor a dimension's KL costs nothing more, so "
        "the model has no reason to shut the dimension off completely. Values of 0.1 to 1 nats per dimension "
        "are typical; 0 turns it off.",
        VARIATIONAL),
}

OTHER_TERMS: dict[str, E] = {
    "objective.contractive.weight": E(
        "Penalises how much the code changes when the input changes slightly (the encoder's Jacobian), for "
        "stable codes. 0 is off.",
        "The tutorial's contractive autoencoder adds a term that penalises the model's sensitivity to small "
        "variations in the input, for stable, robust representations. The penalty is the squared Frobenius "
        "norm of the code's Jacobian with respect to the input, averaged over the batch, so codes change only "
        "along the directions the data really varies in.\n\n"
        "It is costly: for most encoders it takes one extra backward pass per code unit (a one-layer sigmoid "
        "mlp has a cheap closed form), so keep the code small. The contractive experiment measures the code's "
        "sensitivity to small perturbations against a plain autoencoder's.",
        CONTRACTIVE),
    "objective.adversarial.enabled": E(
        "A discriminator learns to tell the encoder's codes from samples of a chosen prior, and the encoder "
        "learns to fool it, so the codes take the prior's shape.",
        "The tutorial's adversarial autoencoder adds a discriminator that tries to distinguish the encoded "
        "representations from randomly sampled latent vectors. Each step trains the discriminator on prior "
        "samples (real) and codes (fake), then trains the encoder, beside reconstruction, to make codes the "
        "discriminator takes for real. Unlike a VAE's KL term it needs no formula for the prior: any "
        "distribution one can sample from will do, such as a mixture of gaussians.\n\n"
        "Watch adv_gen and adv_disc on the loss plot: in a healthy run they level off rather than one winning "
        "outright. The Latent space map shows whether the codes fill the prior's shape.",
        ADVERSARIAL),
    "objective.adversarial.prior": E(
        "The distribution the codes are shaped into: a standard gaussian, or a mixture of gaussians set on a "
        "circle.",
        "The discriminator sees samples of this prior as real, so the encoder learns to make its codes look "
        "like them. Sampling new data then means drawing from the prior and decoding.",
        ADVERSARIAL),
    "objective.adversarial.prior=gaussian": E(
        "Codes are shaped into a standard normal cloud, as a VAE's are.",
        "The codes fill a round cloud around the origin, so drawing from N(0, I) and decoding gives plausible "
        "samples.",
        ADVERSARIAL, "gaussian: N(0, I)"),
    "objective.adversarial.prior=mixture": E(
        "Codes are shaped into several narrow gaussians spread on a circle in the first two code dimensions.",
        "With as many components as classes, each class's codes can gather around one component, which the "
        "Latent space map makes visible. Sampling picks a component and draws around it.",
        ADVERSARIAL, "mixture: gaussians on a circle"),
    "objective.adversarial.mixture_components": E(
        "How many gaussians the mixture prior has, evenly spaced on a circle of radius 2.",
        "Ten suits the ten digits. The encoder is free to give the classes to the components in any order: "
        "nothing tells it which is which.",
        ADVERSARIAL),
    "objective.adversarial.weight": E(
        "How much the encoder's 'fool the discriminator' term counts against reconstruction.",
        "Higher makes the codes match the prior more closely at some cost in reconstruction; too high and "
        "training can oscillate. 1 is the usual start.",
        ADVERSARIAL),
    "objective.adversarial.hidden_units": E(
        "The width of the discriminator's two hidden layers.",
        "A stronger discriminator notices finer mismatches between the codes and the prior; one too strong "
        "wins outright and the encoder learns nothing useful from it. 128 suits small codes.",
        ADVERSARIAL),
    "objective.adversarial.disc_lr": E(
        "The discriminator's own learning rate, separate from the model's.",
        "Adversarial training balances two players. If adv_disc falls towards zero and stays there, the "
        "discriminator is winning: lower its rate. If it stays at its starting value, it learns nothing: "
        "raise it.",
        ADVERSARIAL),
    "objective.stacked.pretrain": E(
        "Train the network one layer at a time, each as a small autoencoder of the layer before, then "
        "fine-tune the whole: the tutorial's stacked autoencoder.",
        "The tutorial's stacked autoencoders train several autoencoder layers in a stack, each capturing more "
        "abstract features. Stage 1 trains the first encoder layer with its mirror to reconstruct the input; "
        "stage 2 trains the second layer to reconstruct the first layer's output; and so on. Then the whole "
        "network is fine-tuned on the full objective. The loss plot draws each stage left of epoch 0.\n\n"
        "Pretraining helped deep networks train before today's initialisations and optimisers; here it mostly "
        "shows how features build on one another. It needs an mlp with a mirrored decoder, at least one "
        "hidden layer, and a code that is neither variational nor adversarial.",
        STACKED),
    "objective.stacked.epochs_per_layer": E(
        "How many epochs each greedy pretraining stage trains before the next layer starts.",
        "More epochs give each layer a better start. Fine-tuning's epochs come after all the stages, so the "
        "run takes longer by layers x this many epochs.",
        STACKED),
}

# The loss terms as the dashboard names them (spec_rules.TERMS, and the validation's recon_mse).
TERMS: dict[str, E] = {
    "term=total": E(
        "Everything the optimiser minimises: the reconstruction plus each active penalty, times its weight.",
        "The number training drives down. It does not compare between models with different objectives: a "
        "VAE's total includes its KL term, a sparse model's its penalty. Compare the reconstruction, or "
        "recon_mse, across models instead.",
        TRAINING, "total: the whole loss"),
    "term=recon": E(
        "How far the output is from the clean input: binary cross-entropy or squared error, summed over a "
        "sample's values.",
        "The heart of every autoencoder: the tutorial's difference between the input and the reconstructed "
        "output. It is summed over a sample's values and averaged over the batch, so it grows with the "
        "input's size.",
        TRAINING, "recon: reconstruction"),
    "term=recon_mse": E(
        "The validation reconstruction's mean squared error per value: one measure for every model and "
        "likelihood.",
        "Measured once an epoch on the validation data. It does not depend on the likelihood or the "
        "objective, so it is the number to compare between runs in the Runs tab. Hidden at first: it is on "
        "another scale from the training losses.",
        TRAINING, "recon_mse: mean squared error"),
    "term=kl": E(
        "How far the encoder's gaussians are from the prior N(0, I), summed over the code's dimensions (VAE).",
        "It counts times β in the total. It rises as the code carries more information about the input; the "
        "VAE health panel splits it by dimension. A KL near zero means the code says almost nothing: "
        "posterior collapse.",
        VARIATIONAL, "kl: KL divergence"),
    "term=sparsity": E(
        "The sparsity penalty: the L1 size of the activations, or the KL between ρ and each unit's mean "
        "activation.",
        "It counts times the sparsity weight in the total, and falls as the code becomes sparse; the Sparsity "
        "panel shows where each unit stands.",
        SPARSE, "sparsity: the sparsity penalty"),
    "term=contractive": E(
        "The squared size of the encoder's Jacobian: how much the code moves when the input moves slightly.",
        "It counts times the contractive weight in the total, and falls as the encoder stops reacting to "
        "directions the data does not vary in.",
        CONTRACTIVE, "contractive: the Jacobian penalty"),
    "term=adv_gen": E(
        "The encoder's adversarial loss: low when the discriminator takes its codes for prior samples.",
        "It counts times the adversarial weight in the total. It rises when the discriminator improves and "
        "falls when the encoder catches up; a level line means the two are balanced.",
        ADVERSARIAL, "adv_gen: fooling the discriminator"),
    "term=adv_disc": E(
        "How badly the discriminator tells prior samples from codes: about 1.39 (2 ln 2) when it cannot tell "
        "them apart at all.",
        "Trained by its own optimiser, it is not part of the model's total. Near 1.39 the codes look like the "
        "prior to it; near 0 it separates them easily, so the codes do not match the prior yet.",
        ADVERSARIAL, "adv_disc: the discriminator's loss"),
}
