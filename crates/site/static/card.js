// The card form of /workspace/deals/{id}/card: Stripe's Payment Element
// takes the card (its data never reaches this server), and Stripe confirms
// the PaymentIntent the server created, then sends the buyer back to the
// deal. The payment is recorded as paid only when Stripe's signed webhook
// says so, never because the browser came back.
(function () {
  "use strict";
  var form = document.getElementById("card-form");
  if (!form) {
    return;
  }
  var message = document.getElementById("card-message");
  var button = document.getElementById("pay-by-card");
  function tell(text) {
    message.textContent = text;
    message.hidden = false;
  }
  if (typeof window.Stripe !== "function") {
    tell(form.dataset.unavailable);
    return;
  }
  var stripe = window.Stripe(form.dataset.publishableKey, { locale: form.dataset.locale });
  var elements = stripe.elements({ clientSecret: form.dataset.clientSecret, locale: form.dataset.locale });
  elements.create("payment").mount("#card-element");
  button.disabled = false;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    button.disabled = true;
    message.hidden = true;
    stripe
      .confirmPayment({ elements: elements, confirmParams: { return_url: form.dataset.returnUrl } })
      .then(function (result) {
        // Only a failure comes back here; success leaves for return_url.
        if (result.error) {
          tell(result.error.message || form.dataset.unavailable);
          button.disabled = false;
        }
      });
  });
})();
