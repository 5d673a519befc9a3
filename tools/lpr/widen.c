/*
 * widen: carries a trained network's weights into a wider copy of it (issue 5), so
 * that a reader with more room can start from what the smaller one learned instead of
 * from random weights: hours of CPU training are what this project is short of.
 *
 *	widen -c old.cfg -w old.weights -C new.cfg -o new.weights [-S seed]
 *
 * The two cfgs must have the same layers in the same order; a layer may have more
 * filters (convolutional) or outputs (connected) in the new one. A widened layer keeps
 * its old units and fills the new ones with copies of old units (unit j copies unit
 * j mod old_n), batch-norm statistics included; the next layer then sees each copied
 * unit more than once and divides the weights it gives to every copy by the number of
 * copies, so the new network computes what the old one did ("Net2WiderNet", Chen et
 * al. 2016). A little noise on the copies' incoming weights lets training pull them
 * apart. The next layer may read a convolutional layer's output through a connected
 * layer (input index c * h * w + position) or a convolutional one (input channel c).
 *
 * Tooling only, built against darknet like the trainers.
 */
#include <darknet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Units of a layer whose count may change: filters or outputs. */
static int
units(const layer *l)
{
	return l->type == CONVOLUTIONAL ? l->n : l->type == CONNECTED ? l->outputs : -1;
}

/* Incoming weights per unit. */
static int
fan_in(const layer *l)
{
	return l->type == CONVOLUTIONAL ? l->c / l->groups * l->size * l->size :
	    l->inputs;
}

static float
noise(void)
{
	return ((float)rand() / (float)RAND_MAX - 0.5f) * 2;
}

/*
 * Copies layer o into n. in_old/in_new: the input units (channels for a
 * convolutional layer, positions-per-channel spread for a connected one) of the old
 * and new previous layer, per_in: input values per unit (h*w of a convolutional
 * previous layer read by a connected one, else 1).
 */
static int
carry(const layer *o, layer *n, int in_old, int in_new, int per_in, float eps)
{
	int	 uo = units(o), un = units(n), fo = fan_in(o), fn = fan_in(n);
	int	 ks = o->type == CONVOLUTIONAL ? o->size * o->size : 1;
	int	 u, i, k, src, copies;

	if (uo < 0 || un < uo || fo * in_new != fn * in_old)
		return -1;
	for (u = 0; u < un; u++) {
		src = u % uo;
		for (i = 0; i < in_new; i++) {
			/* how many copies of input unit i % in_old the new input has */
			copies = in_new / in_old + (i % in_old < in_new % in_old);
			for (k = 0; k < per_in * ks; k++) {
				float w = o->weights[(size_t)src * fo +
				    (size_t)(i % in_old) * per_in * ks + k] / copies;
				if (u >= uo)
					w += eps * noise() * (w < 0 ? -w : w);
				n->weights[(size_t)u * fn + (size_t)i * per_in * ks + k] = w;
			}
		}
		n->biases[u] = o->biases[src];
		if (o->batch_normalize && n->batch_normalize) {
			n->scales[u] = o->scales[src];
			n->rolling_mean[u] = o->rolling_mean[src];
			n->rolling_variance[u] = o->rolling_variance[src];
		}
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	const char	*ocfg = NULL, *ow = NULL, *ncfg = NULL, *out = NULL;
	network		*on, *nn;
	int		 ch, i, in_old = 0, in_new = 0, per_in = 1, prev_conv = 0;
	unsigned	 seed = 1;

	while ((ch = getopt(argc, argv, "c:w:C:o:S:")) != -1)
		switch (ch) {
		case 'c': ocfg = optarg; break;
		case 'w': ow = optarg; break;
		case 'C': ncfg = optarg; break;
		case 'o': out = optarg; break;
		case 'S': seed = (unsigned)atoi(optarg); break;
		default: ocfg = NULL; break;	/* usage below */
		}
	if (ocfg == NULL || ow == NULL || ncfg == NULL || out == NULL) {
		fprintf(stderr, "usage: widen -c old.cfg -w old.weights -C new.cfg "
		    "-o new.weights [-S seed]\n");
		return 64;
	}
	srand(seed);
	on = load_network((char *)ocfg, (char *)ow, 0);
	nn = load_network((char *)ncfg, NULL, 0);
	if (on->n != nn->n) {
		fprintf(stderr, "widen: %d layers against %d\n", on->n, nn->n);
		return 1;
	}
	for (i = 0; i < on->n; i++) {
		layer *o = &on->layers[i], *n = &nn->layers[i];

		if (o->type != n->type) {
			fprintf(stderr, "widen: layer %d changes type\n", i);
			return 1;
		}
		if (o->type == CONVOLUTIONAL || o->type == CONNECTED) {
			per_in = 1;
			if (in_old == 0) {	/* the first layer with weights */
				in_old = o->type == CONVOLUTIONAL ? o->c : o->inputs;
				in_new = n->type == CONVOLUTIONAL ? n->c : n->inputs;
			} else if (o->type == CONNECTED && prev_conv) {
				/* reading a (pooled) feature map: c * h * w inputs */
				per_in = o->inputs / in_old;
			}
			if ((o->type == CONVOLUTIONAL ? n->c : n->inputs) !=
			    in_new * per_in) {
				fprintf(stderr, "widen: layer %d: %d inputs, want %d\n",
				    i, n->type == CONVOLUTIONAL ? n->c : n->inputs,
				    in_new * per_in);
				return 1;
			}
			if (carry(o, n, in_old, in_new, per_in, 0.01f) == -1) {
				fprintf(stderr, "widen: layer %d: %d units (%d in) cannot "
				    "come from %d (%d in)\n", i, units(n), in_new,
				    units(o), in_old);
				return 1;
			}
			fprintf(stderr, "widen: layer %d %s %d -> %d units\n", i,
			    o->type == CONVOLUTIONAL ? "conv" : "connected", units(o),
			    units(n));
			in_old = units(o);
			in_new = units(n);
			prev_conv = o->type == CONVOLUTIONAL;
		} else if (o->outputs != n->outputs && o->type != MAXPOOL &&
		    o->type != DROPOUT) {
			fprintf(stderr, "widen: layer %d: only convolutional and "
			    "connected layers may change\n", i);
			return 1;
		}
	}
	save_weights(nn, (char *)out);
	fprintf(stderr, "widen: %s -> %s\n", ow, out);
	return 0;
}
