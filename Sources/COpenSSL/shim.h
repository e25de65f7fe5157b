#ifndef EXHIBIT_COPENSSL_SHIM_H
#define EXHIBIT_COPENSSL_SHIM_H

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/bio.h>

#endif
