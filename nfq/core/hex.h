/* hex - the value of one hexadecimal digit, for the few places that read
 * hex text by hand (key files, probe payload escapes, URL escapes, replay
 * files): one definition so they all accept the same digits. */
#ifndef CRAFT_HEX_H
#define CRAFT_HEX_H

/* 0..15, or -1 if c is not a hex digit (either case). */
static inline int hex_digit_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
