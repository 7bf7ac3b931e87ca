/* Project version, printed by --version of every daemon and tool. */
#ifndef CRAFT_VERSION_H
#define CRAFT_VERSION_H

#define CRAFT_VERSION "0.1.0"

#endif
