"""Document 000_66b432f981c9d2a4.txt — a Q&A answer: 'how are the weights of the middle layers updated'.

Convention: row-major batches (E := np.mean(np.sum(.5 * (a[2] - Y)**2, axis=1), axis=0)), z = a @ w + b,
and layers numbered from 0: the document's w[i], b[i], z[i] are our W[i+1], b[i+1], z[i+1], while its
a[i] is our a[i] (a[0] is the input in both).
"""
FORMULAS = []
