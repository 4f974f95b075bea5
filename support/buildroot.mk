################################################################################
#
# Buildroot entry points of the hotshare tree.
#
# Included by the top-level Makefile, so that, from the repository root,
#
#   make hotshare_defconfig && make
#
# builds the board image with this tree as BR2_EXTERNAL, in output/ (or
# O=<dir>). Any Buildroot goal works the same way: menuconfig,
# linux-menuconfig, savedefconfig, hotshare-rebuild, hotshare-show-depends,
# clean...
#
# Buildroot comes from BUILDROOT=<path to a Buildroot tree>, or else is
# fetched once into $(BR_CACHE) (default ~/.cache/hotshare): a clone of the
# pinned release tag, kept only if the tag is at the pinned commit.
# Downloads go to $(BR_CACHE)/dl unless BR2_DL_DIR is set.
#
# Routing: the goals on the command line (or the default goal "all")
# that are neither the project's own (HOTSHARE_OWN_TARGETS) nor defined
# here go to Buildroot, all in one sub-make. Goals are routed by name
# when this file is read; there is no catch-all rule, so the project's
# own targets and their prerequisites never reach Buildroot, and
# "make test" does not even look for a Buildroot tree.
#
# Targets defined here:
#   all       Buildroot's build; needs a configuration in $(O) first
#   br-fetch  get the pinned Buildroot into $(BR_CACHE) (or check BUILDROOT)
#   br-check  check the external tree against Buildroot, offline:
#             defconfig without warnings, savedefconfig round trip,
#             hotshare-show-depends (support/br-check.sh)
#
################################################################################

# The project's own goals: never passed to Buildroot. Set by the
# top-level Makefile before it includes this file.
HOTSHARE_OWN_TARGETS ?= test bench demo venv lint lab clean-venv

# Buildroot pin: the latest LTS release (2026.02.x branch).
HOTSHARE_BR_VERSION := 2026.02.3
HOTSHARE_BR_COMMIT := 679b9ead7620bbf193620d1ebf56f53c1764d37a
BR_GIT_URL ?= https://gitlab.com/buildroot.org/buildroot.git
BR_CACHE ?= $(HOME)/.cache/hotshare

# This tree (BR2_EXTERNAL), wherever make was started from.
HOTSHARE_TREE := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
O ?= $(HOTSHARE_TREE)/output
HOTSHARE_O = $(abspath $(O))
HOTSHARE_BR_TREE = $(abspath $(or $(BUILDROOT),$(BR_CACHE)/buildroot-$(HOTSHARE_BR_VERSION)))
HOTSHARE_DL_DIR = $(or $(BR2_DL_DIR),$(abspath $(BR_CACHE)/dl))

HOTSHARE_BR_LOCAL_TARGETS := br-fetch br-check

HOTSHARE_BR_MAKE = BR2_DL_DIR=$(HOTSHARE_DL_DIR) \
	$(MAKE) -C $(HOTSHARE_BR_TREE) BR2_EXTERNAL=$(HOTSHARE_TREE) \
	O=$(HOTSHARE_O)

# Expanded only when a recipe that needs Buildroot is about to run:
# checks BUILDROOT, or fetches the pinned release; when neither works,
# stops with a single line.
define hotshare-br-tree
$(if $(BUILDROOT),
	$(if $(and $(wildcard $(HOTSHARE_BR_TREE)/Config.in),
			$(wildcard $(HOTSHARE_BR_TREE)/package/Makefile.in)),,
		$(error hotshare: BUILDROOT=$(BUILDROOT) is not a Buildroot tree)),
	$(eval hotshare-br-fetched := $(shell $(HOTSHARE_TREE)/support/fetch-buildroot.sh \
		'$(HOTSHARE_BR_TREE)' '$(HOTSHARE_BR_VERSION)' \
		'$(HOTSHARE_BR_COMMIT)' '$(BR_GIT_URL)' 2>&1))
	$(if $(filter 0,$(.SHELLSTATUS)),
		$(if $(hotshare-br-fetched),$(info $(hotshare-br-fetched))),
		$(error $(hotshare-br-fetched))))
endef

# "all" builds from the configuration in $(O): without one, say what to
# do instead of fetching Buildroot to have it say so.
define hotshare-br-need-config
$(if $(filter all,$(HOTSHARE_BR_GOALS)),
	$(if $(or $(wildcard $(HOTSHARE_O)/.config),
			$(filter %config,$(HOTSHARE_BR_GOALS))),,
		$(error hotshare: no configuration in $(HOTSHARE_O): run "make hotshare_defconfig" first)))
endef

# Goals for Buildroot: what was asked for, less ours and make's special
# targets (.DEFAULT...).
HOTSHARE_BR_GOALS := $(filter-out $(HOTSHARE_OWN_TARGETS) \
	$(HOTSHARE_BR_LOCAL_TARGETS) .%,$(or $(MAKECMDGOALS),all))

.DEFAULT_GOAL := all

ifneq ($(HOTSHARE_BR_GOALS),)
HOTSHARE_BR_FIRST := $(firstword $(HOTSHARE_BR_GOALS))
.PHONY: $(HOTSHARE_BR_GOALS)
# One sub-make for all the Buildroot goals, in their order.
$(HOTSHARE_BR_FIRST):
	$(strip $(hotshare-br-need-config))$(strip $(hotshare-br-tree))
	+$(HOTSHARE_BR_MAKE) $(HOTSHARE_BR_GOALS)
$(filter-out $(HOTSHARE_BR_FIRST),$(HOTSHARE_BR_GOALS)): $(HOTSHARE_BR_FIRST)
	@:
endif

.PHONY: br-fetch
br-fetch:
	$(strip $(hotshare-br-tree))
	@echo "hotshare: Buildroot tree: $(HOTSHARE_BR_TREE)"

.PHONY: br-check
br-check:
	$(strip $(hotshare-br-tree))
	+$(HOTSHARE_TREE)/support/br-check.sh $(HOTSHARE_BR_TREE)
