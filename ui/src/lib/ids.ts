// Short forms of ids for screens with little room. Vaidya's ids are UUID v7, whose leading
// digits are a timestamp (rows made together share them), so the short form is the tail.

export const shortId = (id: string): string => id.replace(/-/g, "").slice(-8);
